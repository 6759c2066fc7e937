"""Solution formats of the arithmetic world: rendering, parsing and token labels.

A completion is a few lines; every solution ends with `A: <int>`:

    Think: 23+45=68. 68-17=51.          <- `nl`: natural-language step chain  (`direct` has no body line)
    Code: x=23; x+=45 #68; x-=17 #51;   <- `code`: program-like trace
    Check: 23+45-17=51.                 <- optional self-check
    Conf: 7                             <- optional verbalised confidence, 0..10 tenths
    A: 51

Planning choices change the path, and under a misconception the answer too (`sign-drop` acts on the
running values, so adding first avoids the negative intermediates left to right would write; `order_of`
recovers the choice from a trace): the order of operations (`ltr`: left to right;
`pos_first`: additions first, then subtractions), the step size of nl traces (`coarse`: two operations
per step), and whether to self-check. Behaviours layered on top: corruption (an arithmetic error in one
step, propagated to the answer), a systematic misconception (`sign-drop`: a negative intermediate result
is written without its sign, a deterministic function of the problem), a class error (strategy–problem
affinity, `world.classes`: on problems of a class the format fails on, the last result is off by one),
shortcuts (`operand`: the
answer repeats an operand; `skip`: one necessary operation is left out), and self-correction: one step
is first written with a wrong result, then the marker `Wait,` and the same step with the right result
(`Think: 3+5=9. Wait, 3+5=8. 8-2=6.`, `Code: x=3; x+=5 #9; Wait, x+=5 #8; x-=2 #6;`); the corrected
step replaces the wrong one.

The second skill (`world.tasks`): a problem may begin with a multiplication by a one-digit constant,
`7*4+5`, written as a step like any other (`Think: 7*4=28. 28+5=33.`, `Code: x=7; x*=4 #28; x+=5 #33;`);
it stays first under every order of operations.

Token labels (one per character, the world's tokens): `planning` = strategy and section markers (the
self-correction marker `Wait,` among them), the confidence value, and the operator+operand that choose what is computed next (the order of operations is
a genuine choice here); `execution` = running values, results and the answer, the arithmetic that follows
from the choices; `other` = spacing and punctuation; `unparsed` = text outside the grammar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

FORMATS = ("direct", "nl", "code")
ORDERS = ("ltr", "pos_first")
MISCONCEPTIONS = ("sign-drop",)
SHORTCUTS = ("operand", "skip")
MARKERS = {"nl": "Think:", "code": "Code:"}
LABEL_NAMES = {"p": "planning", "e": "execution", "o": "other", "u": "unparsed"}
MUL = "*"  # the second skill's operator (world.tasks): only ever the first operation of a problem
WAIT = " Wait,"  # the self-correction marker, written before the corrected step


def apply_op(value: int, op: str, b: int) -> int:
    """One operation of the world: `value op b` for op in + - *."""
    if op == "+":
        return value + b
    if op == "-":
        return value - b
    if op == MUL:
        return value * b
    raise ValueError(f"operator {op!r} not in + - *")


def evaluate(operands: tuple[int, ...], ops: tuple[str, ...]) -> int:
    """The exact value of `operands[0] ops[0] operands[1] ...`, left to right (a multiplication only comes first)."""
    value = operands[0]
    for op, b in zip(ops, operands[1:]):
        value = apply_op(value, op, b)
    return value


def ordered_pairs(operands: tuple[int, ...], ops: tuple[str, ...], order: str) -> list[tuple[str, int]]:
    """The (op, operand) pairs in the order a trace of `order` applies them: `ltr` as written; `pos_first`
    the multiplication (if any) first, then the additions, then the subtractions."""
    pairs = list(zip(ops, operands[1:]))
    if order == "pos_first":
        pairs = [p for p in pairs if p[0] == MUL] + [p for p in pairs if p[0] == "+"] + [p for p in pairs if p[0] == "-"]
    return pairs


@dataclass(frozen=True)
class Style:
    """How one solution is written. Only `format` is required."""

    format: str
    order: str = "ltr"
    coarse: bool = False  # nl only: two operations per step
    check: bool = False
    conf: int | None = None  # 0..10, meaning conf/10
    corrupt_step: int | None = None  # index of the step whose result is off by `corrupt_delta`
    corrupt_delta: int = 0
    misconception: str | None = None
    shortcut: str | None = None
    class_error: bool = False  # the format fails on this problem's class (affinity): the last result is off by 1
    correct_step: int | None = None  # self-correction: this step is first written off by correct_delta, then fixed
    correct_delta: int = 0

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format {self.format!r} not in {FORMATS}")
        if self.order not in ORDERS:
            raise ValueError(f"order {self.order!r} not in {ORDERS}")
        if self.misconception not in (None, *MISCONCEPTIONS):
            raise ValueError(f"misconception {self.misconception!r} not in {MISCONCEPTIONS}")
        if self.shortcut not in (None, *SHORTCUTS):
            raise ValueError(f"shortcut {self.shortcut!r} not in {SHORTCUTS}")
        if self.conf is not None and not 0 <= self.conf <= 10:
            raise ValueError(f"conf {self.conf} must be in 0..10")
        if self.correct_step is not None and (self.format == "direct" or self.correct_delta == 0):
            raise ValueError("a self-correction needs a trace (nl or code) and a non-zero correct_delta")


Step = tuple[int, tuple[tuple[str, int], ...], int]  # (start value, ((op, operand), ...), result)


def trace(operands: tuple[int, ...], ops: tuple[str, ...], style: Style) -> list[Step]:
    """The steps a solution of `style` writes, with corruption and misconception applied."""
    pairs = ordered_pairs(operands, ops, style.order)
    if style.shortcut == "skip" and len(pairs) > 1:
        pairs = pairs[:-1]
    size = 2 if (style.coarse and style.format == "nl") else 1
    chunks = [tuple(pairs[i : i + size]) for i in range(0, len(pairs), size)]
    steps, value = [], operands[0]
    for k, chunk in enumerate(chunks):
        start = value
        for op, b in chunk:
            value = apply_op(value, op, b)
        if style.misconception == "sign-drop" and value < 0:
            value = -value
        if style.corrupt_step == k:
            value += style.corrupt_delta
        if style.class_error and k == len(chunks) - 1:
            value += 1
        steps.append((start, chunk, value))
    return steps


def _step_text(start: int, chunk, result: int) -> str:
    return f"{start}{''.join(op + str(b) for op, b in chunk)}={result}."


def render(operands: tuple[int, ...], ops: tuple[str, ...], style: Style) -> str:
    """The completion text (without the prompt) for one problem in one style."""
    if style.shortcut == "operand" or (style.shortcut == "skip" and len(operands) < 3):
        return f"A: {operands[-1]}"
    steps = trace(operands, ops, style)
    final = steps[-1][2]
    if style.format == "direct" and style.corrupt_step is not None:
        final = evaluate(operands, ops) + style.corrupt_delta + style.class_error
    fix = style.correct_step if style.correct_step is not None and style.correct_step < len(steps) else None
    lines = []
    if style.format == "nl":
        texts = [_step_text(*s) for s in steps]
        if fix is not None:
            start, chunk, result = steps[fix]
            texts[fix] = _step_text(start, chunk, result + style.correct_delta) + WAIT + " " + texts[fix]
        lines.append("Think: " + " ".join(texts))
    elif style.format == "code":
        texts = [f" x{s[1][0][0]}={s[1][0][1]} #{s[2]};" for s in steps]
        if fix is not None:
            (op, b), result = steps[fix][1][0], steps[fix][2]
            texts[fix] = f" x{op}={b} #{result + style.correct_delta};" + WAIT + texts[fix]
        lines.append(f"Code: x={operands[0]};" + "".join(texts))
    if style.check:
        expr = str(operands[0]) + "".join(o + str(b) for o, b in zip(ops, operands[1:]))
        lines.append(f"Check: {expr}={final}.")
    if style.conf is not None:
        lines.append(f"Conf: {style.conf}")
    lines.append(f"A: {final}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- parsing
_NUM = r"-?\d+"
_STEP = re.compile(rf"({_NUM})((?:[+*-]\d+)+)=({_NUM})\.")
_CODE_INIT = re.compile(rf"x=({_NUM});")
_CODE_STEP = re.compile(rf" x([+*-])=(\d+) #({_NUM});")
_PAIR = re.compile(r"([+*-])(\d+)")
_CONF = re.compile(r"Conf: (\d{1,2})")
_ANSWER = re.compile(rf"A: ({_NUM})")


@dataclass
class Parsed:
    """Structure recovered from a completion; `labels` has one code from LABEL_NAMES per character."""

    format: str | None = None
    well_formed: bool = False
    answer: int | None = None
    confidence: float | None = None
    n_ops: int = 0  # operations written in the trace
    n_steps: int = 0
    has_check: bool = False
    n_answer_lines: int = 0
    n_corrections: int = 0  # self-corrections: steps written wrong, then `Wait,` and written again
    labels: list[str] = field(default_factory=list)
    pairs: list[tuple[str, int]] = field(default_factory=list)  # (op, operand) in the order the trace applies them
    steps: list[Step] = field(default_factory=list)  # (start, ((op, operand), ...), result) as written, corrected


def order_of(operands: tuple[int, ...], ops: tuple[str, ...], parsed: Parsed) -> str | None:
    """The planning choice a parsed trace made for this problem: `ltr`, `pos_first`, `either` (both orders
    give the same trace, e.g. no addition after a subtraction), or None (no trace, or neither order)."""
    if not parsed.pairs:
        return None
    ltr, pos = ordered_pairs(operands, ops, "ltr"), ordered_pairs(operands, ops, "pos_first")
    if ltr == pos:
        return "either" if parsed.pairs == ltr else None
    return "ltr" if parsed.pairs == ltr else "pos_first" if parsed.pairs == pos else None


def _label_step(labels: list[str], m: re.Match, offset: int) -> None:
    s = offset + m.start()
    labels[s + m.start(1) - m.start() : s + m.end(1) - m.start()] = "e" * len(m.group(1))
    labels[s + m.start(2) - m.start() : s + m.end(2) - m.start()] = "p" * len(m.group(2))
    eq = s + m.end(2) - m.start()
    labels[eq : eq + 1 + len(m.group(3))] = "e" * (1 + len(m.group(3)))
    labels[eq + 1 + len(m.group(3))] = "o"


def _scan_steps(rest: str, pattern: re.Pattern, sep: str, labels: list[str], off: int) -> list[tuple[re.Match, bool]] | None:
    """The steps of a trace body `rest` (at `off` in the completion), each with whether it corrects the
    step before it (`WAIT` in front); steps are separated by `sep`, a correction's marker comes before the
    separator. Labels the separators `o` and the markers `p` in place; None if `rest` is outside the grammar."""
    out: list[tuple[re.Match, bool]] = []
    pos = 0
    while pos < len(rest):
        fix = bool(out) and rest.startswith(WAIT, pos)
        if fix:
            labels[off + pos] = "o"
            labels[off + pos + 1 : off + pos + len(WAIT)] = "p" * (len(WAIT) - 1)
            pos += len(WAIT)
        if out or fix:
            if not rest.startswith(sep, pos):
                return None
            labels[off + pos : off + pos + len(sep)] = "o" * len(sep)
            pos += len(sep)
        m = pattern.match(rest, pos)
        if not m:
            return None
        out.append((m, fix))
        pos = m.end()
    return out


def _parse_body(line: str, labels: list[str], off: int, fmt: str) -> tuple[list[Step] | None, int]:
    """Labels a trace line in place; returns its steps (start, ((op, operand), ...), result), a corrected
    step's in place of the wrong one's (None when the line is outside the grammar), and the number of
    corrections. A code step's start is the value before it (the init or the result of the step it follows)."""
    marker = MARKERS[fmt] + " "
    labels[off : off + len(marker) - 1] = "p" * (len(marker) - 1)
    labels[off + len(marker) - 1] = "o"
    rest, roff = line[len(marker) :], off + len(marker)
    kept: list[Step] = []
    if fmt == "nl":
        steps = _scan_steps(rest, _STEP, " ", labels, roff)
        if not steps:
            return None, 0
        for m, fix in steps:
            _label_step(labels, m, roff)
            step = (int(m.group(1)), tuple((op, int(b)) for op, b in _PAIR.findall(m.group(2))), int(m.group(3)))
            kept[-1:] = [step] if fix else [*kept[-1:], step]
    else:
        m0 = _CODE_INIT.match(rest)
        if not m0:
            return None, 0
        labels[roff : roff + 2] = "oo"
        labels[roff + 2 : roff + m0.end() - 1] = "e" * (m0.end() - 3)
        labels[roff + m0.end() - 1] = "o"
        base = roff + m0.end()
        steps = _scan_steps(rest[m0.end() :], _CODE_STEP, "", labels, base)
        if steps is None or (steps and steps[0][1]):
            return None, 0
        init = int(m0.group(1))
        for m, fix in steps:
            s = base + m.start()
            labels[s : s + 2] = "oo"  # " x"
            labels[s + 2 : s + 4 + len(m.group(2))] = "p" * (2 + len(m.group(2)))  # "+=45"
            t = s + 4 + len(m.group(2))
            labels[t] = "o"
            labels[t + 1 : t + 2 + len(m.group(3))] = "e" * (1 + len(m.group(3)))  # "#68"
            labels[t + 2 + len(m.group(3))] = "o"
            before = kept[:-1] if fix else kept
            step = (before[-1][2] if before else init, ((m.group(1), int(m.group(2))),), int(m.group(3)))
            kept[-1:] = [step] if fix else [*kept[-1:], step]
    return kept, sum(fix for _, fix in steps)


def parse(text: str) -> Parsed:
    """Parse a completion. Never raises: text outside the grammar is labelled `u` and not well-formed."""
    p = Parsed(labels=["u"] * len(text))
    lines = text.split("\n")
    offsets, pos = [], 0
    for line in lines:
        offsets.append(pos)
        if pos + len(line) < len(text):
            p.labels[pos + len(line)] = "o"  # the newline
        pos += len(line) + 1
    ok, i = True, 0
    first = lines[0]
    for fmt, marker in MARKERS.items():
        if first.startswith(marker + " "):
            p.format = fmt
            steps, n_corrections = _parse_body(first, p.labels, 0, fmt)
            if steps is None:
                p.labels[: len(first)] = "u" * len(first)
                ok = False
            else:
                p.steps, p.n_corrections = steps, n_corrections
                p.pairs = [pair for step in steps for pair in step[1]]
                p.n_steps, p.n_ops = len(steps), len(p.pairs)
            i = 1
            break
    else:
        if first.startswith(("A: ", "Conf: ", "Check: ")):
            p.format = "direct"
        else:
            ok = False
    # optional Check, optional Conf, then exactly one final answer line
    if i < len(lines) and lines[i].startswith("Check: "):
        m = _STEP.fullmatch(lines[i], 7)
        p.has_check = True
        if m:
            p.labels[offsets[i] : offsets[i] + 6] = "pppppp"
            p.labels[offsets[i] + 6] = "o"
            _label_step(p.labels, m, offsets[i])
        else:
            ok = False
        i += 1
    if i < len(lines):
        m = _CONF.fullmatch(lines[i])
        if m and int(m.group(1)) <= 10:
            p.confidence = int(m.group(1)) / 10
            p.labels[offsets[i] : offsets[i] + 5] = "ppppp"
            p.labels[offsets[i] + 5] = "o"
            p.labels[offsets[i] + 6 : offsets[i] + len(lines[i])] = "p" * len(m.group(1))
            i += 1
    answers = [(j, m) for j, line in enumerate(lines) if (m := _ANSWER.fullmatch(line))]
    p.n_answer_lines = len(answers)
    if answers:
        j, m = answers[0]
        p.answer = int(m.group(1))
        p.labels[offsets[j] : offsets[j] + 2] = "pp"
        p.labels[offsets[j] + 2] = "o"
        p.labels[offsets[j] + 3 : offsets[j] + len(lines[j])] = "e" * len(m.group(1))
    p.well_formed = ok and len(answers) == 1 and answers[0][0] == i == len(lines) - 1
    if p.format is None:
        p.well_formed = False
    return p


def steps_correct(operands: tuple[int, ...], ops: tuple[str, ...], parsed: Parsed) -> bool:
    """Whether every step of a parsed solution is right for this problem (CoT correctness, checked exactly):
    the chain starts at the first operand, each step's result is its start with its operations applied, each
    step starts where the previous ended, the operations are the problem's (a multiplication first, the
    additions and subtractions in any order: they commute from the start value) and the answer is the last
    result. A direct answer has no step to be wrong (True); a trace outside the grammar, or a self-check line
    that disagrees with the answer, is not right."""
    if parsed.format is None or not parsed.well_formed:
        return False
    if parsed.format == "direct":
        return True
    if not parsed.steps or parsed.steps[0][0] != operands[0]:
        return False
    value = operands[0]
    for start, chunk, result in parsed.steps:
        if start != value:
            return False
        for op, b in chunk:
            value = apply_op(value, op, b)
        if value != result:
            return False
    wanted = list(zip(ops, operands[1:]))
    if sorted(parsed.pairs) != sorted(wanted) or (MUL in ops and parsed.pairs[0][0] != MUL):
        return False
    return parsed.answer == value


def labels_of(text: str) -> list[str]:
    """One label name (planning / execution / other / unparsed) per character of `text`."""
    return [LABEL_NAMES[c] for c in parse(text).labels]
