// The ceiling: a Worker that does nothing. No route can be faster than this in the same harness.
export default {
  fetch() {
    return new Response("hello world");
  },
};
