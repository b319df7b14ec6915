#!/usr/bin/env python3
"""serve-check.py — check one saved serve response against doc/serve.md
(tests/cli/serve.bats): every field name and type of the shape, and the
framing of the streams (SSE events, NDJSON lines).

    serve-check.py KIND FILE [ARG]

KIND (FILE holds the response body):
    completion      OpenAI text_completion object
    chat            OpenAI chat.completion object
    completion-sse  OpenAI completion stream      ARG "usage": expect a usage chunk
    chat-sse        OpenAI chat stream            ARG "usage": expect a usage chunk
    generate        Ollama /api/generate, one object (stream: false)
    ochat           Ollama /api/chat, one object
    generate-nd     Ollama /api/generate NDJSON stream
    ochat-nd        Ollama /api/chat NDJSON stream
    error           OpenAI error object            ARG: the expected param
    oerror          Ollama error object
    metrics         Prometheus text format 0.0.4

The generation kinds print one JSON line, {"text", "finish", "prompt_tokens",
"completion_tokens"} (tokens null where the shape has none), so the test can
compare texts exactly; metrics prints {"name{labels}": value}. A violation
prints what is wrong and the body, and exits 1. MODEL_NAME (environment,
default "m") is the name responses must carry.
"""
import datetime
import json
import math
import os
import re
import sys
import time

MODEL = os.environ.get("MODEL_NAME", "m")
FINISH = ("stop", "length")


class Bad(Exception):
    pass


def need(cond, what, obj=None):
    if not cond:
        raise Bad(what + ("" if obj is None else ": " + json.dumps(obj)[:600]))


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def has(o, key, kind, what):
    need(isinstance(o, dict) and key in o, "%s: no %r" % (what, key), o)
    v = o[key]
    if kind is int:
        need(is_int(v), "%s.%s is not an integer" % (what, key), o)
    elif kind is float:
        need(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
             "%s.%s is not a number" % (what, key), o)
    elif kind is None:
        need(v is None, "%s.%s is not null" % (what, key), o)
    else:
        need(isinstance(v, kind), "%s.%s is not a %s" % (what, key, kind.__name__), o)
    return v


def created(o, what):
    t = has(o, "created", int, what)
    need(abs(t - time.time()) < 600, "%s.created %d is not now" % (what, t), o)


def iso8601(s, what):
    need(isinstance(s, str), what + " is not a string", s)
    try:
        datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise Bad("%s %r is not ISO 8601" % (what, s))
    need("T" in s, "%s %r has no date-time separator" % (what, s))


def usage(u, what):
    need(isinstance(u, dict), what + " is not an object", u)
    p = has(u, "prompt_tokens", int, what)
    c = has(u, "completion_tokens", int, what)
    t = has(u, "total_tokens", int, what)
    need(p >= 1 and c >= 0 and t == p + c, what + ": counts do not add up", u)
    return p, c


def openai_top(o, obj, what):
    need(isinstance(o, dict), what + " is not an object", o)
    i = has(o, "id", str, what)
    need(i != "", what + ".id is empty", o)
    need(has(o, "object", str, what) == obj, "%s.object is not %r" % (what, obj), o)
    created(o, what)
    need(has(o, "model", str, what) == MODEL, "%s.model is not %r" % (what, MODEL), o)
    return i


def completion(o):
    i = openai_top(o, "text_completion", "completion")
    need(i.startswith("cmpl-"), "completion.id does not start with cmpl-", o)
    ch = has(o, "choices", list, "completion")
    need(len(ch) == 1, "completion: not one choice", o)
    c = ch[0]
    text = has(c, "text", str, "choice")
    need(has(c, "index", int, "choice") == 0, "choice.index is not 0", o)
    has(c, "logprobs", None, "choice")
    fin = has(c, "finish_reason", str, "choice")
    need(fin in FINISH, "choice.finish_reason %r" % fin, o)
    p, n = usage(has(o, "usage", dict, "completion"), "usage")
    return text, fin, p, n


def chat(o):
    openai_top(o, "chat.completion", "chat")
    ch = has(o, "choices", list, "chat")
    need(len(ch) == 1, "chat: not one choice", o)
    c = ch[0]
    need(has(c, "index", int, "choice") == 0, "choice.index is not 0", o)
    m = has(c, "message", dict, "choice")
    need(has(m, "role", str, "message") == "assistant", "message.role is not assistant", o)
    text = has(m, "content", str, "message")
    fin = has(c, "finish_reason", str, "choice")
    need(fin in FINISH, "choice.finish_reason %r" % fin, o)
    p, n = usage(has(o, "usage", dict, "chat"), "usage")
    return text, fin, p, n


def sse_events(raw):
    """The data of each event; the framing must be 'data: X\\n\\n' throughout."""
    need(raw.endswith("\n\n"), "the stream does not end with a blank line", raw[-200:])
    datas = []
    for ev in raw[:-2].split("\n\n"):
        need(ev.startswith("data: ") and "\n" not in ev,
             "event is not one 'data: ' line: %r" % ev[:300])
        datas.append(ev[len("data: "):])
    need(datas and datas[-1] == "[DONE]", "the last event is not [DONE]", datas[-3:])
    need("[DONE]" not in datas[:-1], "[DONE] before the end")
    chunks = []
    for d in datas[:-1]:
        try:
            chunks.append(json.loads(d))
        except ValueError:
            raise Bad("event data is not JSON: %r" % d[:300])
    return chunks


def stream_tail(chunks, want_usage, obj):
    """Split off the usage chunk; check ids and objects of all chunks."""
    u = None
    if chunks and chunks[-1].get("choices") == [] and "usage" in chunks[-1]:
        last = chunks.pop()
        openai_top(last, obj, "usage chunk")
        u = usage(last["usage"], "usage chunk.usage")
    need(want_usage == (u is not None),
         "include_usage %s but usage chunk %s" % (want_usage, "present" if u else "missing"))
    need(chunks, "no chunks")
    ids = {openai_top(c, obj, "chunk") for c in chunks}
    need(len(ids) == 1, "chunks carry different ids", sorted(ids))
    for c in chunks:
        ch = has(c, "choices", list, "chunk")
        need(len(ch) == 1, "chunk: not one choice", c)
        need(has(ch[0], "index", int, "chunk choice") == 0, "chunk index is not 0", c)
    return u


def completion_sse(raw, want_usage):
    chunks = sse_events(raw)
    u = stream_tail(chunks, want_usage, "text_completion")
    need(next(iter({c["id"] for c in chunks})).startswith("cmpl-"), "chunk id is not cmpl-")
    text = ""
    for k, c in enumerate(chunks):
        ch = c["choices"][0]
        piece = has(ch, "text", str, "chunk choice")
        has(ch, "logprobs", None, "chunk choice")
        fin = ch.get("finish_reason", "missing")
        if k < len(chunks) - 1:
            need(fin is None, "finish_reason before the last chunk", c)
            text += piece
        else:
            need(fin in FINISH, "last chunk: finish_reason %r" % (fin,), c)
            need(piece == "", "finish chunk text is not empty", c)
    return text, chunks[-1]["choices"][0]["finish_reason"], *(u or (None, None))


def chat_sse(raw, want_usage):
    chunks = sse_events(raw)
    u = stream_tail(chunks, want_usage, "chat.completion.chunk")
    need(len(chunks) >= 2, "fewer than a role chunk and a finish chunk")
    first = chunks[0]["choices"][0]
    need(first.get("delta") == {"role": "assistant", "content": ""},
         "first delta is not {role: assistant, content: ''}", chunks[0])
    need(first.get("finish_reason", "missing") is None, "first chunk has a finish_reason",
         chunks[0])
    text = ""
    for c in chunks[1:-1]:
        ch = c["choices"][0]
        d = has(ch, "delta", dict, "chunk choice")
        need(set(d) == {"content"} and isinstance(d["content"], str),
             "middle delta is not {content: PIECE}", c)
        need(ch.get("finish_reason", "missing") is None, "finish_reason before the end", c)
        text += d["content"]
    last = chunks[-1]["choices"][0]
    need(last.get("delta") == {}, "finish chunk delta is not {}", chunks[-1])
    need(last.get("finish_reason") in FINISH, "finish chunk finish_reason", chunks[-1])
    return text, last["finish_reason"], *(u or (None, None))


def ollama_common(o, what):
    need(isinstance(o, dict), what + " is not an object", o)
    m = has(o, "model", str, what)
    need(m.startswith(MODEL), "%s.model %r is not %r" % (what, m, MODEL), o)
    iso8601(has(o, "created_at", str, what), what + ".created_at")
    return has(o, "done", bool, what)


def ollama_piece(o, kind, what):
    if kind == "generate":
        return has(o, "response", str, what)
    m = has(o, "message", dict, what)
    need(has(m, "role", str, what + ".message") == "assistant", "message.role", o)
    return has(m, "content", str, what + ".message")


def ollama_final(o, kind, what):
    need(has(o, "done", bool, what), what + ".done is not true", o)
    fin = has(o, "done_reason", str, what)
    need(fin in FINISH, what + ".done_reason %r" % fin, o)
    for k in ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration"):
        need(has(o, k, int, what) >= 0, what + "." + k + " < 0", o)
    p = has(o, "prompt_eval_count", int, what)
    n = has(o, "eval_count", int, what)
    need(p >= 1 and n >= 0, what + ": counts", o)
    if kind == "generate":
        ctx = has(o, "context", list, what)
        need(all(is_int(t) and t >= 0 for t in ctx), what + ".context is not token ids", o)
    else:
        need("context" not in o, what + ": chat has a context", o)
    return fin, p, n


def ollama_one(o, kind):
    ollama_common(o, kind)
    text = ollama_piece(o, kind, kind)
    fin, p, n = ollama_final(o, kind, kind)
    return text, fin, p, n


def ollama_nd(raw, kind):
    need(raw.endswith("\n"), "the stream does not end with a newline", raw[-200:])
    objs = []
    for line in raw[:-1].split("\n"):
        try:
            objs.append(json.loads(line))
        except ValueError:
            raise Bad("line is not JSON: %r" % line[:300])
    text = ""
    for o in objs[:-1]:
        need(not ollama_common(o, "line"), "done before the last line", o)
        text += ollama_piece(o, kind, "line")
    last = objs[-1]
    need(ollama_common(last, "last line"), "the last line is not done", last)
    need(ollama_piece(last, kind, "last line") == "", "the last line carries text", last)
    fin, p, n = ollama_final(last, kind, "last line")
    return text, fin, p, n


def error(o, param):
    need(isinstance(o, dict) and set(o) == {"error"}, "not {error: {...}}", o)
    e = o["error"]
    m = has(e, "message", str, "error")
    need(m != "", "error.message is empty", o)
    need(has(e, "type", str, "error") != "", "error.type is empty", o)
    need("param" in e and (e["param"] is None or isinstance(e["param"], str)),
         "error.param is not a string or null", o)
    need("code" in e and (e["code"] is None or isinstance(e["code"], (str, int))),
         "error.code is not a string, integer or null", o)
    if param:
        need(e["param"] == param, "error.param is not %r" % param, o)


def oerror(o):
    need(isinstance(o, dict) and set(o) == {"error"}, "not {error: M}", o)
    need(isinstance(o["error"], str) and o["error"], "error is not a non-empty string", o)


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
                    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*,?)?\})? '
                    r'(\S+)( -?\d+)?$')


def metrics(raw):
    need(raw.endswith("\n"), "metrics do not end with a newline", raw[-200:])
    out, types = {}, {}
    for line in raw[:-1].split("\n"):
        if line.startswith("# TYPE "):
            parts = line.split()
            need(len(parts) == 4, "bad TYPE line %r" % line)
            types[parts[2]] = parts[3]
            continue
        if line.startswith("#") or line == "":
            continue
        m = SAMPLE.match(line)
        need(m is not None, "not a sample line: %r" % line)
        try:
            v = float(m.group(3))
        except ValueError:
            raise Bad("not a value: %r" % line)
        key = m.group(1) + (m.group(2) or "")
        need(key not in out, "sample repeated: %r" % line)
        out[key] = v
    need(types.get("runnel_requests_total") == "counter", "runnel_requests_total TYPE", types)
    need(types.get("runnel_request_duration_seconds") == "histogram",
         "runnel_request_duration_seconds TYPE", types)
    # buckets: le ascending, counts never decreasing, +Inf == _count
    b = []
    for k, v in out.items():
        m = re.match(r'^runnel_request_duration_seconds_bucket\{le="([^"]+)"\}$', k)
        if m:
            b.append((math.inf if m.group(1) == "+Inf" else float(m.group(1)), v))
    b.sort()
    need(len(b) >= 2 and b[-1][0] == math.inf, "no +Inf bucket", b)
    need(all(b[i][1] <= b[i + 1][1] for i in range(len(b) - 1)), "buckets decrease", b)
    need(out.get("runnel_request_duration_seconds_count") == b[-1][1], "+Inf bucket != _count")
    need("runnel_request_duration_seconds_sum" in out, "no _sum")
    for k in ("runnel_prompt_tokens_total", "runnel_generated_tokens_total",
              "runnel_queue_depth", "runnel_generations_active", "runnel_uptime_seconds"):
        need(k in out, "no " + k)
    return out


def main():
    kind, path = sys.argv[1], sys.argv[2]
    arg = sys.argv[3] if len(sys.argv) > 3 else ""
    data = open(path, "rb").read()
    try:
        try:
            raw = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raw = data.decode("utf-8", "replace")
            raise Bad("the body is not UTF-8 (%s)" % e)
        if kind == "metrics":
            print(json.dumps(metrics(raw)))
            return 0
        if kind.endswith("-sse"):
            r = (completion_sse if kind == "completion-sse" else chat_sse)(raw, arg == "usage")
        elif kind.endswith("-nd"):
            r = ollama_nd(raw, "generate" if kind == "generate-nd" else "chat")
        else:
            try:
                o = json.loads(raw)
            except ValueError:
                raise Bad("body is not JSON")
            if kind == "error":
                error(o, arg)
                return 0
            if kind == "oerror":
                oerror(o)
                return 0
            r = {"completion": completion, "chat": chat,
                 "generate": lambda o: ollama_one(o, "generate"),
                 "ochat": lambda o: ollama_one(o, "chat")}[kind](o)
    except Bad as e:
        print("%s: %s" % (kind, e))
        print("body: %s" % raw[:3000])
        return 1
    print(json.dumps({"text": r[0], "finish": r[1], "prompt_tokens": r[2],
                      "completion_tokens": r[3]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
