"""runs.py - the rounds that run_once (common.sh) leaves in a script's
scratch directory, read back for the report helpers of regions.sh and
targets.sh (bench_dirs puts this directory on PYTHONPATH)."""
import json
import sys


def rd(path):
    with open(path, encoding='latin-1') as f:
        return f.read()


def runs(work, name, script, need_summary=True):
    """every round of NAME in work: dicts with secs, rc, rss, summary (memgrep's
    JSON summary, or None), per-pid match counts and the set of (pid, address,
    pattern); exits naming SCRIPT if a round that needs one has no summary"""
    out = []
    for l in rd(f'{work}/{name}.all').split('\n'):
        if not l.strip():
            continue
        i = l.split()[1]
        r = dict(secs=float(rd(f'{work}/{name}.{i}.secs')), rc=int(rd(f'{work}/{name}.{i}.rc')),
                 rss=int(rd(f'{work}/{name}.{i}.rss').split()[-1]), summary=None, counts={}, hits=set())
        for ml in rd(f'{work}/{name}.{i}.out').splitlines():
            try:
                o = json.loads(ml)
            except ValueError:
                continue
            if o.get('type') == 'summary':
                r['summary'] = o
            elif o.get('type') == 'match':
                r['counts'][o['pid']] = r['counts'].get(o['pid'], 0) + 1
                r['hits'].add((o['pid'], int(o['address'], 16), o['pattern']))
        if r['summary'] is None and need_summary:
            sys.exit(f"{script}: {name} round {i}: no summary (exit {r['rc']}): "
                     f"{rd(f'{work}/{name}.{i}.err')[:1500]}")
        out.append(r)
    return out


def scan_s(r):
    """memgrep's own scan time (the summary's elapsed_seconds), nan without one"""
    return r['summary']['elapsed_seconds'] if r['summary'] else float('nan')


def planted(work, host):
    """the PLANT lines of a target's output (work/HOST.txt) as (pid, address, text)"""
    p = set()
    for l in rd(f'{work}/{host}.txt').splitlines():
        f = l.split(' ', 3)
        if f[0] == 'PLANT':
            p.add((int(f[1]), int(f[2], 16), f[3]))
    return p


def verdict(ratio, limit):
    return f"{'met' if ratio <= limit else 'NOT met'} (target <= {limit})"
