#!/usr/bin/env python3
# Run from the repository root: python3 bench/scale/organization-rows.py (docs/scale.md, "Organizations").
# Bytes per row of the organization tables, as SQLite stores them: 10k organizations, 1M credentials' organization rows.
import sqlite3, random, string, json, glob
db = sqlite3.connect(':memory:')
for f in sorted(glob.glob('migrations/*.sql')):
    db.executescript(open(f).read())
b62 = string.ascii_letters + string.digits
rid = lambda p: p + '_' + ''.join(random.choice(b62) for _ in range(22))
orgs = [rid('org') for _ in range(10_000)]
now = '2026-12-07T05:00:00.000Z'
db.executemany("INSERT INTO organizations VALUES (?,?,?,?,?,?,?,?,?)", [(o, f'Customer {i} Inc.', f'cus_{i:08d}', 'active', json.dumps({'plan': 'enterprise', 'region': 'eu'}), json.dumps([{'api_id': 'api_default', 'scopes': ['events:write', 'events:read']}]), now, now, None) for i, o in enumerate(orgs)])
creds = [(rid('cred'), random.choice(orgs)) for _ in range(1_000_000)]
random.shuffle(creds)
db.executemany("INSERT INTO credential_organizations VALUES (?,?)", creds)
db.commit()
for name in ['organizations', 'organizations_newest_first', 'sqlite_autoindex_organizations_1', 'sqlite_autoindex_organizations_2', 'credential_organizations', 'credential_organizations_by_organization']:
    r = db.execute("SELECT sum(pgsize) FROM dbstat WHERE name = ?", (name,)).fetchone()[0]
    print(name, r)
