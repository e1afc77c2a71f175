"""Checks Gantry's PEP 440 ordering and CVSS scores against independent
libraries: `packaging` (PyPA's reference implementation of PEP 440) and
`cvss` (CVSS v3 and v4 calculators).

Usage: osv_ordering.py <claims.json>

The claims file is a JSON object:

    {"pep440": [["1.0a1", "1.0", -1], ...],
     "cvss": [["CVSS:4.0/AV:N/...", 9.3], ...]}

Each PEP 440 claim says how Gantry orders two versions (-1, 0 or 1); each
CVSS claim the score Gantry gives a vector. Exits 1 listing every claim the
libraries disagree with.
"""

import json
import sys

from cvss import CVSS3, CVSS4
from packaging.version import Version


def order(a, b):
    left, right = Version(a), Version(b)
    return (left > right) - (left < right)


def score(vector):
    if vector.startswith("CVSS:4.0/"):
        return float(CVSS4(vector).base_score)
    return float(CVSS3(vector).base_score)


def main():
    with open(sys.argv[1], encoding="utf-8") as claims_file:
        claims = json.load(claims_file)
    wrong = []
    for a, b, claimed in claims["pep440"]:
        expected = order(a, b)
        if expected != claimed:
            wrong.append(f"PEP 440: {a} vs {b}: gantry {claimed}, packaging {expected}")
    for vector, claimed in claims["cvss"]:
        expected = score(vector)
        if abs(expected - claimed) > 1e-9:
            wrong.append(f"CVSS: {vector}: gantry {claimed}, cvss {expected}")
    for line in wrong:
        print(line)
    checked = len(claims["pep440"]) + len(claims["cvss"])
    print(f"{checked} claims checked, {len(wrong)} wrong")
    sys.exit(1 if wrong else 0)


main()
