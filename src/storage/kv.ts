/** KV takes one write per second per key: a write that follows another one to the same key waits this long. */
const KV_SAME_KEY_WRITE_GAP_MS = 1_100;

/**
 * Runs a KV write, and once more after the same-key gap if it fails: a repair or a second marker
 * often follows a write to the same key within the second. A second failure is the caller's.
 */
export async function writeOnceMore(write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch {
    await scheduler.wait(KV_SAME_KEY_WRITE_GAP_MS);
    await write();
  }
}
