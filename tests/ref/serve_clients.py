"""serve through the official Python clients (tests/ref/serve.bats).

    python serve_clients.py URL MODEL KEY

URL is a running `serve` (http://127.0.0.1:PORT) that requires the API key
KEY. The OpenAI client (openai, with _strict_response_validation so every
response must match the client's own pydantic models) and the Ollama client
(ollama, whose pydantic models validate what it parses) each run their
cases; a case prints "ok NAME", or "  NAME: what went wrong" lines and
"not ok NAME". Greedy requests (temperature 0) make plain and streamed
answers comparable, so streamed pieces must add up to the plain text, and
the two APIs must give the same text for the same prompt.
"""
import sys
import traceback

import ollama
import openai

URL, MODEL, KEY = sys.argv[1], sys.argv[2], sys.argv[3]
PROMPT = "Once upon a time"
MESSAGES = [{"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Tell me a story."}]
N = 12
FINISH = ("stop", "length")

oa = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0, timeout=30,
                   _strict_response_validation=True)
# The SDK's Completion type has a non-null finish_reason, yet the completion
# stream (OpenAI's, and doc/serve.md's) sends null until the last chunk: that
# one case uses the SDK's default, non-strict parsing, and checks by hand.
oa_loose = openai.OpenAI(base_url=URL + "/v1", api_key=KEY, max_retries=0, timeout=30)
ol = ollama.Client(host=URL, headers={"Authorization": "Bearer " + KEY}, timeout=30)
seen = {}      # texts of earlier cases, for the parity checks


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_usage(u, what):
    assert u is not None, what + ": no usage"
    for k in ("prompt_tokens", "completion_tokens", "total_tokens"):
        assert is_int(getattr(u, k)), "%s.%s is %r" % (what, k, getattr(u, k))
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens, what
    assert u.prompt_tokens >= 1, what


def case_openai_models():
    page = oa.models.list()
    ids = [m.id for m in page.data]
    assert ids == [MODEL], ids
    m = page.data[0]
    assert m.object == "model" and m.owned_by == "runnel" and is_int(m.created), m
    one = oa.models.retrieve(MODEL)
    assert one.id == MODEL and one.object == "model", one


def case_openai_completion():
    r = oa.completions.create(model=MODEL, prompt=PROMPT, max_tokens=N, temperature=0)
    assert r.object == "text_completion" and r.model == MODEL and r.id.startswith("cmpl-"), r
    assert is_int(r.created), r
    assert len(r.choices) == 1, r
    c = r.choices[0]
    assert isinstance(c.text, str) and c.text, c
    assert c.index == 0 and c.logprobs is None, c
    assert c.finish_reason == "length", c
    check_usage(r.usage, "usage")
    assert r.usage.completion_tokens == N, r.usage
    seen["completion"] = c.text


def case_openai_completion_stream():
    text, finish, n = "", None, 0
    for chunk in oa_loose.completions.create(model=MODEL, prompt=PROMPT, max_tokens=N,
                                             temperature=0, stream=True):
        assert chunk.object == "text_completion" and chunk.model == MODEL, chunk
        assert chunk.id.startswith("cmpl-") and is_int(chunk.created), chunk
        assert finish is None, "a chunk after the finish chunk"
        assert len(chunk.choices) == 1, chunk
        c = chunk.choices[0]
        assert isinstance(c.text, str) and c.index == 0 and c.logprobs is None, c
        assert c.finish_reason is None or c.finish_reason in FINISH, c
        text += c.text
        finish = c.finish_reason
        n += 1
    assert finish == "length", finish
    assert n >= 2, n
    assert text == seen["completion"], (text, seen["completion"])


def case_openai_chat():
    r = oa.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=N, temperature=0)
    assert r.object == "chat.completion" and r.model == MODEL, r
    c = r.choices[0]
    assert c.index == 0 and c.message.role == "assistant", c
    assert isinstance(c.message.content, str) and not c.message.content.startswith(" "), c
    assert c.finish_reason in FINISH, c
    check_usage(r.usage, "usage")
    seen["chat"] = c.message.content
    seen["chat_usage"] = r.usage


def case_openai_chat_stream():
    text, finish, usage, roles = "", None, None, []
    with oa.chat.completions.create(model=MODEL, messages=MESSAGES, max_tokens=N, temperature=0,
                                    stream=True,
                                    stream_options={"include_usage": True}) as stream:
        for chunk in stream:
            assert chunk.object == "chat.completion.chunk", chunk
            if not chunk.choices:
                assert usage is None, "two usage chunks"
                usage = chunk.usage
                continue
            assert usage is None, "a choice after the usage chunk"
            c = chunk.choices[0]
            if c.delta.role:
                roles.append(c.delta.role)
            text += c.delta.content or ""
            if c.finish_reason:
                finish = c.finish_reason
    assert roles == ["assistant"], roles
    assert finish in FINISH, finish
    check_usage(usage, "usage chunk")
    assert usage.completion_tokens == seen["chat_usage"].completion_tokens, usage
    assert usage.prompt_tokens == seen["chat_usage"].prompt_tokens, usage
    assert text == seen["chat"], (text, seen["chat"])


def case_openai_errors():
    def raises(cls, status, fn):
        try:
            fn()
        except cls as e:
            assert e.status_code == status, (cls.__name__, e.status_code)
            assert isinstance(e.body, dict) and isinstance(e.body.get("message"), str), e.body
            return
        raise AssertionError("no %s" % cls.__name__)
    raises(openai.BadRequestError, 400,
           lambda: oa.completions.create(model=MODEL, prompt=PROMPT, max_tokens=-1))
    raises(openai.BadRequestError, 400,
           lambda: oa.completions.create(model=MODEL, prompt=PROMPT, max_tokens=2, n=2))
    raises(openai.BadRequestError, 400,
           lambda: oa.chat.completions.create(model=MODEL, messages=MESSAGES, temperature=5))
    raises(openai.NotFoundError, 404,
           lambda: oa.completions.create(model="no-such-model", prompt=PROMPT, max_tokens=2))
    raises(openai.NotFoundError, 404, lambda: oa.models.retrieve("no-such-model"))
    bad = openai.OpenAI(base_url=URL + "/v1", api_key="wrong", max_retries=0, timeout=30)
    raises(openai.AuthenticationError, 401, lambda: bad.models.list())
    # a streamed request refused before it starts is an exception too
    raises(openai.BadRequestError, 400,
           lambda: list(oa.completions.create(model=MODEL, prompt=PROMPT, max_tokens=-1,
                                              stream=True)))


def case_ollama_list():
    r = ol.list()
    assert len(r.models) == 1, r
    m = r.models[0]
    assert m.model == MODEL + ":latest", m
    assert m.modified_at is not None and m.modified_at.year >= 2024, m
    assert is_int(m.size) and m.size > 0, m
    assert isinstance(m.digest, str) and m.digest, m
    assert m.details is not None, m


def ollama_final(r, what):
    assert r.done is True, (what, r)
    assert r.done_reason in FINISH, (what, r.done_reason)
    for k in ("total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration",
              "eval_count", "eval_duration"):
        v = getattr(r, k)
        assert is_int(v) and v >= 0, (what, k, v)
    assert r.prompt_eval_count >= 1, (what, r)


def case_ollama_generate():
    r = ol.generate(model=MODEL, prompt=PROMPT, options={"num_predict": N, "temperature": 0})
    assert r.model.startswith(MODEL), r
    ollama_final(r, "generate")
    assert r.eval_count == N and r.done_reason == "length", r
    assert r.context and all(is_int(t) for t in r.context), r.context
    assert r.response == seen["completion"], (r.response, seen["completion"])
    seen["generate"] = r.response


def case_ollama_generate_stream():
    text, last, n = "", None, 0
    for part in ol.generate(model=MODEL + ":latest", prompt=PROMPT, stream=True,
                            options={"num_predict": N, "temperature": 0}):
        assert last is None or not last.done, "a part after done"
        text += part.response
        last = part
        n += 1
    assert n >= 2, n
    ollama_final(last, "last part")
    assert last.eval_count == N, last
    assert text == seen["generate"], (text, seen["generate"])


def case_ollama_chat():
    r = ol.chat(model=MODEL, messages=MESSAGES, options={"num_predict": N, "temperature": 0})
    assert r.message.role == "assistant", r
    ollama_final(r, "chat")
    assert r.message.content == seen["chat"], (r.message.content, seen["chat"])
    assert r.eval_count == seen["chat_usage"].completion_tokens, r


def case_ollama_chat_stream():
    text, last = "", None
    for part in ol.chat(model=MODEL, messages=MESSAGES, stream=True,
                        options={"num_predict": N, "temperature": 0}):
        assert last is None or not last.done, "a part after done"
        assert part.message.role == "assistant", part
        text += part.message.content or ""
        last = part
    ollama_final(last, "last part")
    assert text == seen["chat"], (text, seen["chat"])


def case_ollama_error():
    try:
        ol.generate(model="no-such-model", prompt=PROMPT)
    except ollama.ResponseError as e:
        assert e.status_code == 404, e.status_code
        assert isinstance(e.error, str) and e.error and not e.error.startswith("{"), e.error
    else:
        raise AssertionError("no ResponseError")
    try:
        list(ol.chat(model="no-such-model", messages=MESSAGES, stream=True))
    except ollama.ResponseError as e:
        assert e.status_code == 404, e.status_code
    else:
        raise AssertionError("no ResponseError from a stream")
    nokey = ollama.Client(host=URL, timeout=30)
    try:
        nokey.list()
    except ollama.ResponseError as e:
        assert e.status_code == 401, e.status_code
    else:
        raise AssertionError("no ResponseError without the key")


def main():
    cases = [(n[len("case_"):], f) for n, f in globals().items() if n.startswith("case_")]
    failed = 0
    for name, fn in cases:
        try:
            fn()
            print("ok " + name)
        except Exception:
            failed += 1
            for line in traceback.format_exc().rstrip().splitlines()[-12:]:
                print("  %s: %s" % (name, line))
            print("not ok " + name)
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
