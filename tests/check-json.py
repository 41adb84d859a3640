#!/usr/bin/env python3
# check-json.py: checks that a file holds exactly one JSON document of docs/json.md.
#
#   check-json.py FILE COMMAND NRUNS [CONDITION]...
#
# FILE must parse as JSON as a whole (nothing before or after the document), with
# "schema" 1, "command" COMMAND, NRUNS runs ("-" for any number), every run with
# every member of docs/json.md of the right type (booleans as booleans), and each
# CONDITION, a Python expression over the document `d` (e.g.
# "d['runs'][0]['verified'] is True"), true.  Exit status 0, or 1 with the reason
# on stderr.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import json
import sys

NUMBER = (int, float)
# member: the types it may have (None: null)
RUN = {
    "scenario": (str, type(None)),
    "policy": (str,),
    "params": (str, type(None)),
    "completed": (bool,),
    "verified": (bool,),
    "stop_reason": (str,),
    "total_time_s": NUMBER,
    "downtime_ms": NUMBER,
    "max_downtime_ms": NUMBER + (type(None),),
    "downtime_target_met": (bool, type(None)),
    "data_sent_mib": NUMBER,
    "rounds": (int,),
    "pages_resent": (int,),
    "hot_fragments": (int,),
    "guest_slowdown_pct": NUMBER,
    "bandwidth_mib_s": NUMBER + (type(None),),
    "time_ratio": NUMBER + (type(None),),
    "data_ratio": NUMBER + (type(None),),
    "data_bound_ratio": NUMBER + (type(None),),
    "wall_s": NUMBER + (type(None),),
}
ADVISE_RUN = {"converges": (bool,), "meets_limit": (bool,)}


def fail(why):
    print("check-json: " + why, file=sys.stderr)
    sys.exit(1)


def check_members(what, obj, spec):
    for key, types in spec.items():
        if key not in obj:
            fail("%s lacks %r" % (what, key))
        value = obj[key]
        # bool is an int in Python: a number member must not be a boolean
        if isinstance(value, bool) and bool not in types:
            fail("%s: %r is a boolean" % (what, key))
        if not isinstance(value, types):
            fail("%s: %r is %r" % (what, key, value))


def main():
    if len(sys.argv) < 4:
        fail("usage: check-json.py FILE COMMAND NRUNS [CONDITION]...")
    path, command, nruns = sys.argv[1:4]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        d = json.loads(text)
    except ValueError as e:
        fail("%s is not one JSON document: %s" % (path, e))
    if not isinstance(d, dict):
        fail("the document is not an object")
    if d.get("schema") != 1:
        fail("schema is %r" % d.get("schema"))
    if d.get("command") != command:
        fail("command is %r, expected %r" % (d.get("command"), command))
    runs = d.get("runs")
    if not isinstance(runs, list):
        fail("runs is not a list")
    if nruns != "-" and len(runs) != int(nruns):
        fail("%d runs, expected %s" % (len(runs), nruns))
    for i, run in enumerate(runs):
        check_members("run %d" % i, run, RUN)
        if command == "advise":
            check_members("run %d" % i, run, ADVISE_RUN)
        if run["verified"] and not run["completed"]:
            fail("run %d verified but not completed" % i)
    if command == "advise":
        advice = d.get("advice")
        if not isinstance(advice, dict):
            fail("advise without advice")
        rec = advice.get("recommended")
        if rec is not None and not (isinstance(rec, int) and 0 <= rec < len(runs)):
            fail("recommended is %r" % rec)
    elif "advice" in d:
        fail("advice in a %s document" % command)
    for cond in sys.argv[4:]:
        if not eval(cond, {"d": d}):
            fail("false: %s" % cond)


main()
