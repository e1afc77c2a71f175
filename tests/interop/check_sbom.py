"""Checks SBOMs written by Gantry with tools Gantry did not write.

    python check_sbom.py FILE...

Each FILE is a CycloneDX 1.6 JSON BOM or an SPDX 2.3 JSON document, told
apart by its content:

- CycloneDX: validated against the 1.6 JSON schema by cyclonedx-python-lib's
  strict validator (every error listed), then loaded into its object model;
- SPDX: parsed by spdx-tools' JSON parser and checked by its validator for
  SPDX 2.3.

Both then get the checks no schema makes: every reference (bom-ref or
SPDXID) unique, every edge of the dependency graph pointing at an element
of the document, every purl accepted by packageurl-python, and (CycloneDX;
spdx-tools checks SPDX's) every hash as long as its algorithm's digests.

Prints one line per file saying what was checked; exits 1 if any file
fails a check, 2 on bad usage.
"""

import json
import sys

from cyclonedx.model.bom import Bom
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL
from spdx_tools.spdx.parser.error import SPDXParsingError
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document


def check_purls(purls, problems):
    for purl in purls:
        try:
            PackageURL.from_string(purl)
        except ValueError as error:
            problems.append(f"purl `{purl}` does not parse: {error}")


# Hex digits of a digest of each CycloneDX algorithm Gantry writes.
HEX_LENGTHS = {"MD5": 32, "SHA-1": 40, "SHA-256": 64, "SHA-384": 96, "SHA-512": 128}


def check_hashes(components, problems):
    for component in components:
        for digest in component.get("hashes", []):
            wanted = HEX_LENGTHS.get(digest["alg"])
            if wanted is not None and len(digest["content"]) != wanted:
                problems.append(
                    f"{component.get('bom-ref')}: {digest['alg']} hash has "
                    f"{len(digest['content'])} hex digits, not {wanted}"
                )


def duplicates(values):
    seen, repeated = set(), set()
    for value in values:
        (repeated if value in seen else seen).add(value)
    return sorted(repeated)


def all_components(components):
    for component in components:
        yield component
        yield from all_components(component.get("components", []))


def check_cyclonedx(path, text, document):
    problems = []
    if document.get("specVersion") != "1.6":
        problems.append(f"specVersion is {document.get('specVersion')!r}, not '1.6'")
        return problems, "CycloneDX"
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text, all_errors=True)
    for error in errors or []:
        problems.append(f"schema: {error.data.message} at {list(error.data.absolute_path)}")
    if problems:
        return problems, "CycloneDX 1.6"

    try:
        Bom.from_json(document)
    except Exception as error:  # the library raises many kinds
        problems.append(f"cyclonedx-python-lib cannot load it: {error!r}")

    metadata = document.get("metadata", {}).get("component")
    components = list(all_components(document.get("components", [])))
    if metadata:
        components.insert(0, metadata)
    refs = [c["bom-ref"] for c in components if "bom-ref" in c]
    for ref in duplicates(refs):
        problems.append(f"bom-ref `{ref}` is used more than once")
    known = set(refs)
    dependencies = document.get("dependencies", [])
    for ref in duplicates(d["ref"] for d in dependencies):
        problems.append(f"dependency entry `{ref}` is listed more than once")
    edges = 0
    for dependency in dependencies:
        for target in [dependency["ref"], *dependency.get("dependsOn", [])]:
            if target not in known:
                problems.append(f"dependency `{target}` names no component")
        edges += len(dependency.get("dependsOn", []))
    purls = [c["purl"] for c in components if "purl" in c]
    check_purls(purls, problems)
    check_hashes(components, problems)
    summary = (
        f"CycloneDX 1.6, strict schema and object model: {len(components)} components, "
        f"{len(known)} unique bom-refs, {len(dependencies)} graph entries with {edges} edges, "
        f"{len(purls)} purls parsed"
    )
    return problems, summary


def check_spdx(path, document):
    problems = []
    try:
        parsed = parse_file(path)
    except SPDXParsingError as error:
        problems.extend(f"spdx-tools parser: {message}" for message in error.get_messages())
        return problems, "SPDX"
    for message in validate_full_spdx_document(parsed, "SPDX-2.3"):
        problems.append(f"spdx-tools validator: {message.validation_message}")

    packages = document.get("packages", [])
    ids = ["SPDXRef-DOCUMENT", *(p["SPDXID"] for p in packages)]
    for spdx_id in duplicates(ids):
        problems.append(f"SPDXID `{spdx_id}` is used more than once")
    known = set(ids)
    relationships = document.get("relationships", [])
    for relationship in relationships:
        for end in (relationship["spdxElementId"], relationship["relatedSpdxElement"]):
            if end not in known:
                problems.append(f"relationship end `{end}` names no element")
    describes = [r for r in relationships if r["relationshipType"] == "DESCRIBES"]
    if not describes:
        problems.append("the document DESCRIBES nothing")
    purls = [
        ref["referenceLocator"]
        for package in packages
        for ref in package.get("externalRefs", [])
        if ref.get("referenceType") == "purl"
    ]
    check_purls(purls, problems)
    summary = (
        f"SPDX 2.3, spdx-tools parser and validator: {len(packages)} packages, "
        f"{len(known) - 1} unique package SPDXIDs, {len(relationships)} relationships, "
        f"{len(purls)} purls parsed"
    )
    return problems, summary


def check(path):
    with open(path, encoding="utf-8") as file:
        text = file.read()
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        return [f"not JSON: {error}"], "unknown"
    if document.get("bomFormat") == "CycloneDX":
        return check_cyclonedx(path, text, document)
    if "spdxVersion" in document:
        return check_spdx(path, document)
    return ["neither a CycloneDX BOM nor an SPDX document"], "unknown"


def main(paths):
    if not paths:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    failed = False
    for path in paths:
        problems, summary = check(path)
        if problems:
            failed = True
            print(f"FAIL {path}: {summary}")
            for problem in problems:
                print(f"  - {problem}")
        else:
            print(f"ok   {path}: {summary}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
