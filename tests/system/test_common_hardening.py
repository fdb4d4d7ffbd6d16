"""Regressions of issue 13's code defects that need the real stack: a complaint target whose id
holds a quote and a backslash is stored and shown intact (snprintf built invalid JSON and the
request failed with 503), and cp-admin migrate refuses an applied migration whose file was
edited (without checksums the edit was skipped without a word)."""

import os
import shutil
import subprocess

from helpers import complaint, post, wait_rows
from stack import ROOT, bin_dir

ODD_ID = 'C-"7"\\x'


def test_target_id_with_quote_and_backslash_is_stored_and_shown_intact(stack, http):
    r = post(http, stack, complaint(target={"kind": "courier", "id": ODD_ID}))
    assert r.status_code == 201, r.text
    no = r.json()["complaint_no"]
    rows = wait_rows(stack, "SELECT target->>'kind', target->>'id' FROM intake.complaints "
                            "WHERE complaint_no = %s", (no,))
    assert rows[0] == ("courier", ODD_ID)
    view = http.get(f"{stack.base_url}/v1/staff/complaints/{no}", headers=stack.auth("supervisor"))
    assert view.status_code == 200, view.text
    assert view.json()["target"] == {"kind": "courier", "id": ODD_ID}


def _migrate(stack, migrations_dir):
    env = {"PATH": os.environ.get("PATH", ""), "ADMIN_DATABASE_URL": stack.admin_url,
           "MIGRATIONS_DIR": str(migrations_dir)}
    return subprocess.run([str(bin_dir() / "cp-admin"), "migrate"], env=env,
                          capture_output=True, text=True, timeout=120)


def test_migration_edited_after_apply_is_refused(stack, tmp_path):
    sql = tmp_path / "sql"
    shutil.copytree(ROOT / "deploy" / "sql", sql)
    with stack.db() as db:
        # as if these two had been applied before checksums existed: filled on the next run
        db.execute("UPDATE public.schema_migrations SET sha256 = NULL WHERE name IN "
                   "(SELECT name FROM public.schema_migrations ORDER BY name LIMIT 2)")
    done = _migrate(stack, sql)
    assert done.returncode == 0, done.stdout + done.stderr
    with stack.db() as db:
        missing = db.execute("SELECT count(*) FROM public.schema_migrations "
                             "WHERE sha256 IS NULL").fetchone()[0]
        assert missing == 0
        first, recorded = db.execute("SELECT name, sha256 FROM public.schema_migrations "
                                     "ORDER BY name LIMIT 1").fetchone()
    with open(sql / first, "a") as f:
        f.write("\n-- edited after it was applied\n")
    done = _migrate(stack, sql)
    assert done.returncode != 0
    assert first in done.stdout + done.stderr
    with stack.db() as db:
        still = db.execute("SELECT sha256 FROM public.schema_migrations WHERE name = %s",
                           (first,)).fetchone()[0]
    assert still == recorded  # the refusal changed nothing
