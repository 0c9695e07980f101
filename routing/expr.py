"""The small expression language of routing rules: parsed once, type-checked, compiled
to closures. Never `eval`.

Two contexts use it:

* agent expressions (a target's `expression`), evaluated for an agent and a call:
  `skills.billing >= 7 and "es" in languages`, `team == "t1" or skills has "vip"`,
  `call.language in languages`;
* call expressions (a filter's `when`), evaluated for a call:
  `tier == "gold" and language == "es"`, `priority >= 5`, `"billing" in skills`.

Grammar (keywords are case-insensitive, so TaskRouter's `AND`/`OR`/`HAS` read too)::

    expr    := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | compare
    compare := operand (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not in" | "has") operand)?
    operand := NUMBER | STRING | "true" | "false" | "[" [operand ("," operand)*] "]"
             | path | "(" expr ")"
    path    := NAME ("." NAME | "[" STRING "]")*

Names may contain letters, digits, `_` and `-` (skill names like `first-line`).

Types are checked at load time: ordering needs numbers on both sides, `in` needs a
list or `skills` on the right, `and`/`or`/`not` need booleans, and a name that is not
known in the context is an error ("unknown attribute 'skils'"). Free attributes
(`attributes.x`, `call.attributes.x`) have no declared type: a comparison that does
not make sense at run time is simply false.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# ------------------------------------------------------------------ errors


class ExprError(ValueError):
    """A problem in an expression; `offset` is the 0-based character position."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


# ------------------------------------------------------------------ lexer

_KEYWORDS = {"and", "or", "not", "in", "has", "true", "false"}
_OPS2 = {"==", "!=", "<=", ">="}
_OPS1 = {"<", ">", "(", ")", "[", "]", ",", "."}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # num | str | name | kw | op | end
    value: Any
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
            continue
        if ch in "\"'":
            quote, start, i = ch, i, i + 1
            out: list[str] = []
            while True:
                if i >= n:
                    raise ExprError("unterminated string", start)
                c = text[i]
                if c == "\\" and i + 1 < n:
                    out.append(text[i + 1])
                    i += 2
                    continue
                if c == quote:
                    i += 1
                    break
                out.append(c)
                i += 1
            tokens.append(Token("str", "".join(out), start))
            continue
        if ch.isdigit() or (ch == "-" and i + 1 < n and text[i + 1].isdigit()):
            start = i
            i += 1
            while i < n and (text[i].isdigit() or text[i] in "._"):
                i += 1
            raw = text[start:i].replace("_", "")
            try:
                value: float | int = float(raw) if "." in raw else int(raw)
            except ValueError:
                raise ExprError(f"bad number {text[start:i]!r}", start) from None
            tokens.append(Token("num", value, start))
            continue
        if ch.isalpha() or ch == "_":
            start = i
            while i < n and (text[i].isalnum() or text[i] in "_-"):
                i += 1
            word = text[start:i]
            if word.lower() in _KEYWORDS:
                tokens.append(Token("kw", word.lower(), start))
            else:
                tokens.append(Token("name", word, start))
            continue
        two = text[i : i + 2]
        if two in _OPS2:
            tokens.append(Token("op", two, i))
            i += 2
            continue
        if ch == "=":
            raise ExprError("'=' is not a comparison: use '=='", i)
        if ch in _OPS1:
            tokens.append(Token("op", ch, i))
            i += 1
            continue
        raise ExprError(f"unexpected character {ch!r}", i)
    tokens.append(Token("end", None, n))
    return tokens


# ------------------------------------------------------------------ AST


@dataclass(frozen=True, slots=True)
class Lit:
    value: Any
    pos: int


@dataclass(frozen=True, slots=True)
class ListLit:
    items: tuple[Any, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Path:
    parts: tuple[str, ...]
    pos: int

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node
    pos: int


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str  # and | or
    operands: tuple[Node, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # == != < <= > >= in notin
    left: Node
    right: Node
    pos: int


Node = Lit | ListLit | Path | Not | BoolOp | Compare


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at(self, kind: str, value: Any = None) -> bool:
        tok = self.tokens[self.i]
        return tok.kind == kind and (value is None or tok.value == value)

    def expect(self, kind: str, value: Any, what: str) -> Token:
        if not self.at(kind, value):
            tok = self.peek()
            raise ExprError(f"expected {what}, found {_describe(tok)}", tok.pos)
        return self.take()

    def parse(self) -> Node:
        if self.at("end"):
            raise ExprError("empty expression", 0)
        node = self.parse_or()
        if not self.at("end"):
            tok = self.peek()
            raise ExprError(f"unexpected {_describe(tok)}", tok.pos)
        return node

    def parse_or(self) -> Node:
        first = self.parse_and()
        items = [first]
        while self.at("kw", "or"):
            self.take()
            items.append(self.parse_and())
        return first if len(items) == 1 else BoolOp("or", tuple(items), _pos(first))

    def parse_and(self) -> Node:
        first = self.parse_not()
        items = [first]
        while self.at("kw", "and"):
            self.take()
            items.append(self.parse_not())
        return first if len(items) == 1 else BoolOp("and", tuple(items), _pos(first))

    def parse_not(self) -> Node:
        if self.at("kw", "not"):
            tok = self.take()
            return Not(self.parse_not(), tok.pos)
        return self.parse_compare()

    def parse_compare(self) -> Node:
        left = self.parse_operand()
        tok = self.peek()
        op: str | None = None
        if tok.kind == "op" and tok.value in ("==", "!=", "<", "<=", ">", ">="):
            op = tok.value
            self.take()
        elif tok.kind == "kw" and tok.value in ("in", "has"):
            op = tok.value
            self.take()
        elif (
            tok.kind == "kw"
            and tok.value == "not"
            and self.tokens[self.i + 1].kind == "kw"
            and self.tokens[self.i + 1].value == "in"
        ):
            op = "notin"
            self.i += 2
        if op is None:
            return left
        right = self.parse_operand()
        if op == "has":  # `languages has "es"` is `"es" in languages`
            return Compare("in", right, left, tok.pos)
        return Compare(op, left, right, tok.pos)

    def parse_operand(self) -> Node:
        tok = self.peek()
        if tok.kind == "num" or tok.kind == "str":
            self.take()
            return Lit(tok.value, tok.pos)
        if tok.kind == "kw" and tok.value in ("true", "false"):
            self.take()
            return Lit(tok.value == "true", tok.pos)
        if tok.kind == "op" and tok.value == "(":
            self.take()
            node = self.parse_or()
            self.expect("op", ")", "')'")
            return node
        if tok.kind == "op" and tok.value == "[":
            self.take()
            items: list[Any] = []
            if not self.at("op", "]"):
                while True:
                    item = self.parse_operand()
                    if not isinstance(item, Lit):
                        raise ExprError("list items must be literals", _pos(item))
                    items.append(item.value)
                    if self.at("op", ","):
                        self.take()
                        continue
                    break
            self.expect("op", "]", "']'")
            return ListLit(tuple(items), tok.pos)
        if tok.kind == "name":
            self.take()
            parts = [tok.value]
            while True:
                if self.at("op", "."):
                    self.take()
                    nxt = self.peek()
                    if nxt.kind not in ("name", "kw"):
                        raise ExprError(f"expected a name after '.', found {_describe(nxt)}", nxt.pos)
                    self.take()
                    parts.append(
                        str(nxt.value) if nxt.kind == "name" else self.text[nxt.pos : nxt.pos + len(nxt.value)]
                    )
                elif self.at("op", "[") and self.tokens[self.i + 1].kind == "str":
                    self.take()
                    parts.append(self.take().value)
                    self.expect("op", "]", "']'")
                else:
                    break
            return Path(tuple(parts), tok.pos)
        raise ExprError(f"expected a value, found {_describe(tok)}", tok.pos)


def _describe(tok: Token) -> str:
    if tok.kind == "end":
        return "end of expression"
    if tok.kind == "str":
        return f"string {tok.value!r}"
    return repr(str(tok.value))


def _pos(node: Node) -> int:
    return node.pos


def parse(text: str) -> Node:
    """Parse `text` into an AST; raises ExprError with the offset of the problem."""
    return _Parser(text).parse()


# ------------------------------------------------------------------ schemas and types

# Types: "num", "str", "bool", "list" (list of strings), "skills" (name -> level; `in`
# tests for a level >= 1), "any" (free attribute: checked at run time).

NUM, STR, BOOL, LIST, SKILLS, ANY = "num", "str", "bool", "list", "skills", "any"

# A schema maps a name to a type, or to a nested schema (dict), or to the marker
# "map:<type>" meaning any sub-name is allowed with that type.
AGENT_FIELDS: dict[str, Any] = {
    "skills": "map:num",
    "languages": LIST,
    "team": STR,
    "agent_id": STR,
    "id": STR,
    "capacity": NUM,
    "attributes": "map:any",
}

CALL_FIELDS: dict[str, Any] = {
    "priority": NUM,
    "tier": STR,
    "language": STR,
    "queue": STR,
    "customer_id": STR,
    "preferred_agent": STR,
    "skills": "map:num",
    "attributes": "map:any",
}


@dataclass(slots=True)
class Compiled:
    """A compiled expression.

    `fn(agent, call)` returns bool (`agent` is None for call expressions).
    `anchors`: skill -> minimum level every matching agent must have (from top-level
    `and` terms such as `skills.billing >= 5`); the router indexes on these.
    `call_paths`: the call attributes the expression reads (agent expressions), so the
    router can group waiting calls whose answer is the same.
    `first_skill`: the first skill the expression names (used to order `most_skilled`).
    """

    text: str
    fn: Callable[[Any, Any], bool]
    anchors: dict[str, int] = field(default_factory=dict)
    call_paths: tuple[tuple[str, ...], ...] = ()
    first_skill: str | None = None
    skills_named: tuple[str, ...] = ()
    constant_true: bool = False
    fully_anchored: bool = False  # the anchors say it all: checking them is enough


def _resolve(path: Path, context: str, known_skills: frozenset[str] | None) -> tuple[str, tuple[str, ...], str]:
    """-> (owner "agent"|"call", field path inside the owner, type)."""
    parts = path.parts
    if context == "agent":
        if parts[0] == "call":
            owner, schema, rest = "call", CALL_FIELDS, parts[1:]
            if not rest:
                raise ExprError("'call' needs an attribute, e.g. call.language", path.pos)
        else:
            owner, schema, rest = "agent", AGENT_FIELDS, parts
    else:
        owner, schema = "call", CALL_FIELDS
        rest = parts[1:] if parts[0] == "call" and len(parts) > 1 else parts
    name = rest[0]
    kind = schema.get(name)
    if kind is None:
        raise ExprError(f"unknown attribute {name!r}{_suggest(name, schema)}", path.pos)
    if isinstance(kind, str) and kind.startswith("map:"):
        if len(rest) == 1:
            if name == "skills":
                return owner, rest, SKILLS
            raise ExprError(f"{name!r} needs a key, e.g. {name}.something", path.pos)
        if len(rest) > 2:
            raise ExprError(f"{'.'.join(rest)!r}: too many parts", path.pos)
        if name == "skills" and known_skills is not None and rest[1] not in known_skills:
            raise ExprError(f"unknown skill {rest[1]!r}{_suggest(rest[1], known_skills)}", path.pos)
        return owner, rest, kind[4:]
    if len(rest) > 1:
        raise ExprError(f"{name!r} has no attribute {rest[1]!r}", path.pos)
    return owner, rest, kind


def _suggest(name: str, options: Any) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _lit_type(value: Any) -> str:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, (int, float)):
        return NUM
    return STR


class _Compiler:
    def __init__(self, context: str, known_skills: frozenset[str] | None) -> None:
        self.context = context
        self.known_skills = known_skills
        self.call_paths: dict[tuple[str, ...], None] = {}
        self.skills_named: dict[str, None] = {}

    # Each compile step returns (fn(agent, call) -> value, type).
    def compile(self, node: Node) -> tuple[Callable[[Any, Any], Any], str]:
        if isinstance(node, Lit):
            value = node.value
            return (lambda a, c: value), _lit_type(value)
        if isinstance(node, ListLit):
            items = frozenset(node.items)
            return (lambda a, c: items), LIST
        if isinstance(node, Path):
            return self.compile_path(node)
        if isinstance(node, Not):
            fn, kind = self.compile(node.operand)
            self.need_bool(kind, node.operand, "'not'")
            return (lambda a, c: not fn(a, c)), BOOL
        if isinstance(node, BoolOp):
            fns = []
            for operand in node.operands:
                fn, kind = self.compile(operand)
                self.need_bool(kind, operand, f"'{node.op}'")
                fns.append(fn)
            fns_t = tuple(fns)
            if node.op == "and":
                if len(fns_t) == 2:
                    f1, f2 = fns_t
                    return (lambda a, c: bool(f1(a, c)) and bool(f2(a, c))), BOOL
                return (lambda a, c: all(f(a, c) for f in fns_t)), BOOL
            if len(fns_t) == 2:
                f1, f2 = fns_t
                return (lambda a, c: bool(f1(a, c)) or bool(f2(a, c))), BOOL
            return (lambda a, c: any(f(a, c) for f in fns_t)), BOOL
        if isinstance(node, Compare):
            return self.compile_compare(node)
        raise AssertionError(f"unknown node {node!r}")

    def need_bool(self, kind: str, node: Node, what: str) -> None:
        if kind not in (BOOL, ANY):
            raise ExprError(f"{what} needs a true/false value, got a {_type_name(kind)}", _pos(node))

    def compile_path(self, node: Path) -> tuple[Callable[[Any, Any], Any], str]:
        owner, rest, kind = _resolve(node, self.context, self.known_skills)
        name = rest[0]
        if name == "skills" and len(rest) == 2:
            self.skills_named.setdefault(rest[1], None)
        if owner == "call" and self.context == "agent":
            self.call_paths.setdefault(rest, None)
        if owner == "agent":
            if name == "skills":
                if len(rest) == 1:
                    return (lambda a, c: a.skills), SKILLS
                skill = rest[1]
                return (lambda a, c: a.skills.get(skill, 0)), NUM
            if name == "attributes":
                key = rest[1]
                return (lambda a, c: a.attrs.get(key)), ANY
            attr = {"agent_id": "id", "id": "id", "languages": "languages", "team": "team", "capacity": "capacity"}[
                name
            ]
            if attr == "id":
                return (lambda a, c: a.id), kind
            if attr == "languages":
                return (lambda a, c: a.languages), kind
            if attr == "team":
                return (lambda a, c: a.team), kind
            return (lambda a, c: a.capacity), kind
        # call
        if name == "skills":
            if len(rest) == 1:
                return (lambda a, c: c.skills), SKILLS
            skill = rest[1]
            return (lambda a, c: c.skills.get(skill, 0)), NUM
        if name == "attributes":
            key = rest[1]
            return (lambda a, c: c.attrs.get(key)), ANY
        attr = {"preferred_agent": "preferred"}.get(name, name)
        if attr == "priority":
            return (lambda a, c: c.priority), kind
        if attr == "tier":
            return (lambda a, c: c.tier), kind
        if attr == "language":
            return (lambda a, c: c.language), kind
        if attr == "queue":
            return (lambda a, c: c.queue), kind
        if attr == "customer_id":
            return (lambda a, c: c.customer_id), kind
        return (lambda a, c: c.preferred), kind

    def compile_compare(self, node: Compare) -> tuple[Callable[[Any, Any], Any], str]:
        lf, lt = self.compile(node.left)
        rf, rt = self.compile(node.right)
        op = node.op
        if op in ("in", "notin"):
            if rt not in (LIST, SKILLS, ANY):
                raise ExprError(f"'in' needs a list or skills on the right, got a {_type_name(rt)}", _pos(node.right))
            if lt not in (STR, ANY):
                raise ExprError(f"'in' needs a string on the left, got a {_type_name(lt)}", _pos(node.left))
            if rt == SKILLS:
                if isinstance(node.left, Lit):
                    self.skills_named.setdefault(node.left.value, None)
                    if self.known_skills is not None and node.left.value not in self.known_skills:
                        raise ExprError(
                            f"unknown skill {node.left.value!r}{_suggest(node.left.value, self.known_skills)}",
                            _pos(node.left),
                        )

                def fn_in(a: Any, c: Any) -> bool:
                    level: int = rf(a, c).get(lf(a, c), 0)  # a skills map: name -> level
                    return level >= 1

            elif rt == ANY:

                def fn_in(a: Any, c: Any) -> bool:
                    try:
                        return lf(a, c) in rf(a, c)
                    except TypeError:
                        return False

            else:

                def fn_in(a: Any, c: Any) -> bool:
                    return lf(a, c) in rf(a, c)

            if op == "notin":
                return (lambda a, c: not fn_in(a, c)), BOOL
            return fn_in, BOOL
        if ANY not in (lt, rt):
            if op in ("<", "<=", ">", ">="):
                if lt != NUM or rt != NUM:
                    bad, bad_t = (node.left, lt) if lt != NUM else (node.right, rt)
                    raise ExprError(f"type mismatch: {op!r} compares numbers, got a {_type_name(bad_t)}", _pos(bad))
            elif lt != rt:
                raise ExprError(f"type mismatch: {_type_name(lt)} {op} {_type_name(rt)}", node.pos)
        import operator

        pyop = {
            "==": operator.eq,
            "!=": operator.ne,
            "<": operator.lt,
            "<=": operator.le,
            ">": operator.gt,
            ">=": operator.ge,
        }[op]
        if ANY in (lt, rt):

            def fn_any(a: Any, c: Any) -> bool:
                try:
                    return bool(pyop(lf(a, c), rf(a, c)))
                except TypeError:
                    return False

            return fn_any, BOOL
        # Specialise the common `path OP literal` shape: one closure call fewer.
        if isinstance(node.right, Lit):
            const = node.right.value
            if op == ">=":
                return (lambda a, c: lf(a, c) >= const), BOOL
            if op == "==":
                return (lambda a, c: lf(a, c) == const), BOOL
            if op == ">":
                return (lambda a, c: lf(a, c) > const), BOOL
            return (lambda a, c: pyop(lf(a, c), const)), BOOL
        return (lambda a, c: pyop(lf(a, c), rf(a, c))), BOOL


def _type_name(kind: str) -> str:
    return {NUM: "number", STR: "string", BOOL: "true/false", LIST: "list", SKILLS: "skills map", ANY: "value"}[kind]


def _anchors(node: Node) -> tuple[dict[str, int], bool]:
    """Skills every matching agent must have, from the top-level `and` terms; and
    whether those terms are the whole expression (an agent with the anchors matches)."""
    terms = node.operands if isinstance(node, BoolOp) and node.op == "and" else (node,)
    out: dict[str, int] = {}
    exact = True
    for term in terms:
        skill, level = _anchor_of(term)
        if skill is not None and level >= 1:
            out[skill] = max(out.get(skill, 0), level)
            # `==` anchors only bound from below; `>=`/`>`/`in` are exactly "level >= n"
            if isinstance(term, Compare) and term.op in ("==", "!="):
                exact = False
        else:
            exact = False
    return out, exact


def _anchor_of(term: Node) -> tuple[str | None, int]:
    import math

    if not isinstance(term, Compare):
        return None, 0
    left, right, op = term.left, term.right, term.op
    if op == "in" and isinstance(left, Lit) and isinstance(left.value, str) and _is_agent_skills(right):
        return left.value, 1
    flip = {">=": "<=", ">": "<", "<=": ">=", "<": ">", "==": "==", "!=": "!="}
    if isinstance(left, Lit) and not isinstance(right, Lit):
        left, right, op = right, left, flip.get(op, op)
    if not (isinstance(left, Path) and isinstance(right, Lit)):
        return None, 0
    if len(left.parts) != 2 or left.parts[0] != "skills":
        return None, 0
    value = right.value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, 0
    if op == ">=" or op == "==":
        return left.parts[1], math.ceil(value)
    if op == ">":
        return left.parts[1], math.floor(value) + 1
    return None, 0


def _is_agent_skills(node: Node) -> bool:
    return isinstance(node, Path) and node.parts == ("skills",)


def compile_expr(text: str, context: str = "agent", known_skills: frozenset[str] | None = None) -> Compiled:
    """Parse, type-check and compile `text`; raises ExprError on any problem.

    context: "agent" (target expressions) or "call" (filter conditions).
    known_skills: if given, `skills.x` must name one of them.
    """
    if context not in ("agent", "call"):
        raise ValueError(f"unknown context {context!r}")
    node = parse(text)
    comp = _Compiler(context, known_skills)
    fn, kind = comp.compile(node)
    if kind not in (BOOL, ANY):
        raise ExprError(f"the expression must be true or false, got a {_type_name(kind)}", _pos(node))
    constant_true = isinstance(node, Lit) and node.value is True
    if kind == ANY:
        inner = fn
        fn = lambda a, c: bool(inner(a, c))  # noqa: E731
    anchors, exact = _anchors(node) if context == "agent" else ({}, False)
    first = next(iter(comp.skills_named), None)
    return Compiled(
        text=text,
        fn=fn,
        anchors=anchors,
        call_paths=tuple(comp.call_paths),
        first_skill=first,
        skills_named=tuple(comp.skills_named),
        constant_true=constant_true,
        fully_anchored=exact and bool(anchors),
    )
