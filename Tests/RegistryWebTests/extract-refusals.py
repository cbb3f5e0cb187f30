#!/usr/bin/env python3
"""Lists every refusal message people can meet, as the English patterns of refusals.ko.json.

Reads the message argument of every `RegistryError(...)`, `.invalid(...)`, `.notFound(...)` and
`.conflict(...)` (also `RegistryError.invalid(...)` and `throw .invalid(...)`) in
Sources/RegistryDomain, Sources/RegistryStorage, Sources/RegistryWeb and Sources/RegistryImport, and turns each Swift string
literal into a pattern: every `\\(...)` interpolation becomes `{}`. A message whose wording depends
on a condition (an interpolation holding English words, a `+` of literals, a message in a variable)
is listed here by hand in MANUAL, as the patterns of each wording it can take.

    python3 extract-refusals.py           writes refusal-messages.txt beside this script
    python3 extract-refusals.py --check   exits 1 when the sources give a pattern missing from it,
                                          or a message this script cannot read and MANUAL lacks
    python3 extract-refusals.py --print   prints the patterns with where each comes from
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "refusal-messages.txt")
DIRECTORIES = ["Sources/RegistryDomain", "Sources/RegistryStorage", "Sources/RegistryWeb", "Sources/RegistryImport"]

# Files whose refusals only operators see: the database's set-up and connection, migrations, the
# embedded cluster, the audit trail's seal and export, the pseudonym key, the compile shim.
SKIPPED_FILES = {
    "EmbeddedCluster.swift", "Migrator.swift", "AuditSealer.swift", "AuditTrail.swift", "AuditExport.swift",
    "DatabaseURL.swift", "Database.swift", "PseudonymKey.swift", "Pseudonymizer.swift", "_Pending.swift",
    "RegistryError.swift",  # the constructors themselves: `message` is their parameter
}

# Messages the literal reading cannot give exactly, by their source (whitespace collapsed): the
# patterns of every wording they take. An empty list: not a refusal text of its own.
MANUAL = {
    # Pages+Reports.swift: reportSession's refusal, worded by each page that asks for it.
    r'refusal': [
        "outcome reports are for regulator and admin accounts",
        "safety listings are for regulator and admin accounts",
    ],
    # StatusChange.swift, PatientForData.swift: the withdrawal's date when known.
    r'"patient \(patient.id) withdrew consent\(statusOn.map { " on \($0)" } ?? ""); only corrections with a reason are allowed"': [
        "patient {} withdrew consent on {}; only corrections with a reason are allowed",
        "patient {} withdrew consent; only corrections with a reason are allowed",
    ],
    r'''"patient \(patient.id)'s death is already recorded\(statusOn.map { " (\($0))" } ?? ""); correct it instead of recording a second death"''': [
        "patient {}'s death is already recorded ({}); correct it instead of recording a second death",
        "patient {}'s death is already recorded; correct it instead of recording a second death",
    ],
    # VisitRules.swift: a visit before the dose, with the screening suggestion when it could be one.
    r'"\(date) is before the administration on \(anchor); follow-up visits come after the dose" + (screening ? "; a visit within \(screeningWindowDays) days before the first dose may be a screening visit" : "")': [
        "{} is before the administration on {}; follow-up visits come after the dose; a visit within {} days before the first dose may be a screening visit",
        "{} is before the administration on {}; follow-up visits come after the dose",
    ],
    # Voids.swift: the consequences to confirm, by what is being done (Repositories' `doing:`).
    r'''"\(what) would also change \(count == 1 ? "this" : "these \(count) things"): \(map(\.text).joined(separator: "; "))"''': [
        f"{what} would also change {count}: {{}}"
        for what in ["correcting adverse event {}", "correcting status change {}", "correcting visit {}",
                     "reporting this grade 5 event", "voiding administration {}", "voiding adverse event {}",
                     "voiding patient {}", "voiding status change {}", "voiding visit {}", "{}"]
        for count in ["this", "these {} things"]
    ],
    r'''"\(change.toInstitution ?? "the receiving institution") has recorded data for patient \(change.patientID) since the transfer; transfer the patient back instead"''': [
        "the receiving institution has recorded data for patient {} since the transfer; transfer the patient back instead",
        "{} has recorded data for patient {} since the transfer; transfer the patient back instead",
    ],
    r'''"visit\(visits.count == 1 ? "" : "s") \(list) completed follow-ups of administration \(id); void \(visits.count == 1 ? "that visit" : "those visits") first, then log \(visits.count == 1 ? "it" : "them") again where \(visits.count == 1 ? "it belongs" : "they belong")"''': [
        "visit {} completed follow-ups of administration {}; void that visit first, then log it again where it belongs",
        "visits {} completed follow-ups of administration {}; void those visits first, then log them again where they belong",
    ],
    r'''"voiding administration \(id) would \(moved), and \(blocking.map(\.description).joined(separator: ", ")) could not be recorded then; void or correct \(blocking.count == 1 ? "it" : "them") first"''': [
        "voiding administration {} would move patient {}'s first dose from {} to {}, and {} could not be recorded then; void or correct it first",
        "voiding administration {} would move patient {}'s first dose from {} to {}, and {} could not be recorded then; void or correct them first",
        "voiding administration {} would leave patient {} with no dose, and {} could not be recorded then; void or correct it first",
        "voiding administration {} would leave patient {} with no dose, and {} could not be recorded then; void or correct them first",
    ],
    # AdverseEvent.swift: one unknown criterion or several.
    r'''"\(named) \(unknown.count == 1 ? "is not a seriousness criterion" : "are not seriousness criteria"); allowed: \(SeriousnessCriterion.allCases.map(\.rawValue).joined(separator: ", "))"''': [
        "{} is not a seriousness criterion; allowed: {}",
        "{} are not seriousness criteria; allowed: {}",
    ],
    # MeasureCatalogue.swift: a unit where the measure has one, or a score without.
    r'''"\(def.key): unit '\(valueAndUnit[1])' is not allowed; \(def.unit.map { "allowed: \($0)" } ?? "this score has no unit")"''': [
        "{}: unit '{}' is not allowed; allowed: {}",
        "{}: unit '{}' is not allowed; this score has no unit",
    ],
    r'''"\(def.key): \(raw) is out of range; allowed: \(MeasureValue.format(def.minimum)) to \(MeasureValue.format(def.maximum))\(def.unit.map { " \($0)" } ?? "")"''': [
        "{}: {} is out of range; allowed: {} to {}",
    ],
    r'''"'\(parts[0])' is not a known measure; allowed: \(definitions.map(\.key).joined(separator: ", "))"''': [
        "'{}' is not a known measure; allowed: {}",
        "'{}' is not a known measure; allowed: ",  # an empty catalogue
    ],
    # Measures.swift: `other` is " as KEY" or nothing.
    r'"\(d.codeSystem) code \(d.code) is already in the catalogue\(other); one measure per code"': [
        "{} code {} is already in the catalogue as {}; one measure per code",
        "{} code {} is already in the catalogue; one measure per code",
    ],
    # Plans.swift: the plan's decision as a word.
    r'''"plan \(id) is already \(plan.decision.rawValue); it cannot become \(record.decision.rawValue)"''': [
        "plan {} is already {}; it cannot become {}",
    ],
    # RegistryWeb.swift: the roles a page is for.
    r'''"this page is for \(roles.map(\.rawValue).sorted().joined(separator: " or ")) accounts"''': [
        "this page is for coordinator accounts",
        "this page is for regulator accounts",
        "this page is for admin accounts",
        "this page is for {} accounts",
    ],
    # DatabaseErrors.swift: PostgreSQL's own words; row-level security refusing a row.
    'message': [
        'new row violates row-level security policy for table "{}"',
        "permission denied for table {}",
    ],
}

CALL = re.compile(r'RegistryError\s*\(|RegistryError\.(?:invalid|notFound|conflict)\s*\(|(?<![\w)\]])\.(?:invalid|notFound|conflict)\s*\(')


def skip_string(text, i):
    """The index after the string literal starting at text[i] == '"'."""
    if text.startswith('"""', i):
        end = text.index('"""', i + 3)
        return end + 3
    i += 1
    while True:
        c = text[i]
        if c == "\\":
            if text[i + 1] == "(":
                i = skip_group(text, i + 1)
                continue
            i += 2
            continue
        if c == '"':
            return i + 1
        i += 1


def skip_group(text, i):
    """The index after the bracketed group starting at text[i] (one of `([{`)."""
    close = {"(": ")", "[": "]", "{": "}"}
    stack = [close[text[i]]]
    i += 1
    while stack:
        c = text[i]
        if c == '"':
            i = skip_string(text, i)
            continue
        if c in close:
            stack.append(close[c])
        elif c == stack[-1]:
            stack.pop()
        i += 1
    return i


def arguments(text, i):
    """The top-level arguments of the call whose `(` is text[i], as source texts."""
    end = skip_group(text, i)
    args, start, j = [], i + 1, i + 1
    while j < end - 1:
        c = text[j]
        if c == '"':
            j = skip_string(text, j)
            continue
        if c in "([{":
            j = skip_group(text, j)
            continue
        if c == ",":
            args.append(text[start:j].strip())
            start = j + 1
        j += 1
    args.append(text[start:end - 1].strip())
    return [a for a in args if a]


def literal(expr):
    """The pattern of a lone string literal, and whether an interpolation holds English words;
    None when `expr` is not one literal."""
    if not expr.startswith('"') or expr.startswith('"""') or skip_string(expr, 0) != len(expr):
        return None
    out, worded, i = [], False, 1
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "'": "'", "0": "\0"}
    while i < len(expr) - 1:
        c = expr[i]
        if c == "\\":
            n = expr[i + 1]
            if n == "(":
                end = skip_group(expr, i + 1)
                inner = expr[i + 2:end - 1]
                if worded_interpolation(inner):
                    worded = True
                out.append("{}")
                i = end
                continue
            if n == "u":
                end = expr.index("}", i)
                out.append(chr(int(expr[i + 3:end], 16)))
                i = end + 1
                continue
            out.append(escapes.get(n, n))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out), worded


def worded_interpolation(inner):
    """Whether an interpolation holds a string literal with words (not a separator or a `?`)."""
    j = 0
    while j < len(inner):
        if inner[j] == '"':
            end = skip_string(inner, j)
            words = inner[j + 1:end - 1]
            before = inner[:j].rstrip()
            if re.search(r"[A-Za-z]", words) and not before.endswith("separator:"):
                return True
            j = end
            continue
        j += 1
    return False


def message_argument(call, args):
    if call.startswith("RegistryError") and not call.startswith("RegistryError."):
        unlabeled = [a for a in args if not re.match(r"^[A-Za-z_]\w*\s*:", a)]
        return unlabeled[1] if len(unlabeled) > 1 else None
    unlabeled = [a for a in args if not re.match(r"^[A-Za-z_]\w*\s*:", a)]
    return unlabeled[1] if len(unlabeled) > 1 else None


def extract():
    """(patterns in source order, problems)."""
    patterns, problems, seen = [], [], set()

    def add(pattern, where):
        if pattern not in seen:
            seen.add(pattern)
            patterns.append((pattern, where))

    for directory in DIRECTORIES:
        for base, _, files in sorted(os.walk(os.path.join(ROOT, directory))):
            for name in sorted(files):
                if not name.endswith(".swift") or name in SKIPPED_FILES:
                    continue
                path = os.path.join(base, name)
                text = open(path, encoding="utf-8").read()
                relative = os.path.relpath(path, ROOT)
                for m in CALL.finditer(text):
                    line = text.count("\n", 0, m.start()) + 1
                    where = f"{relative}:{line}"
                    if text[:m.start()].rsplit("\n", 1)[-1].lstrip().startswith("//"):
                        continue
                    args = arguments(text, m.end() - 1)
                    expr = message_argument(m.group(0), args)
                    if expr is None:
                        continue
                    key = " ".join(expr.split())
                    if key in MANUAL:
                        for p in MANUAL[key]:
                            add(p, where)
                        continue
                    read = literal(expr)
                    if read is None:
                        problems.append(f"{where}: not a lone literal; list its wordings in MANUAL: {key}")
                        continue
                    pattern, worded = read
                    if worded:
                        problems.append(f"{where}: its wording depends on a condition; list its wordings in MANUAL: {key}")
                        continue
                    add(pattern, where)
    return patterns, problems


def main():
    patterns, problems = extract()
    for p in problems:
        print(p, file=sys.stderr)
    if "--print" in sys.argv:
        for p, where in patterns:
            print(f"{where}\t{p}")
        return 1 if problems else 0
    if "--check" in sys.argv:
        listed = set()
        if os.path.exists(OUT):
            listed = set(open(OUT, encoding="utf-8").read().split("\n"))
        missing = [p for p, _ in patterns if p not in listed]
        for p in missing:
            print(f"not in refusal-messages.txt: {p}", file=sys.stderr)
        return 1 if missing or problems else 0
    with open(OUT, "w", encoding="utf-8") as f:
        for p, _ in patterns:
            f.write(p + "\n")
    print(f"{len(patterns)} patterns written to {os.path.relpath(OUT, ROOT)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
