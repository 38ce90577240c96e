#!/usr/bin/env python3
"""A deterministic OpenAI-compatible chat server for the evaluation gate (scripts/eval-gate.sh).

It answers like a careful but simple model, from the sources Wendao puts in the prompt: the first sentence of
source [1] (two sentences when the system prompt asks for conditions too), cited [1]; the not-found sentence
when there is no source. Judge prompts (rubric wendao-judge-v1) get a fixed JSON verdict, translation prompts
the query back. Usage is reported (about two characters a token), so costs can be computed.

It is also the deterministic fake teacher of the fine-tuning data studio (`wendao tune dataset create`): question
prompts get questions built from the passage, answer prompts the first sentence of source [1] (and [2]), the support
judge a "supported" verdict. Passages containing TEACHER_MALFORMED, TEACHER_EMPTY, TEACHER_REFUSE or TEACHER_ECHO get
a reply without JSON, an empty answer, a refusal or the question back; a model named *reasoner* sends its reasoning
apart (reasoning_content), as DeepSeek-R1 does.

It also fakes the fine-tuning API (`wendao tune submit/status/events/cancel`): POST /files (a file containing
REJECT_FILE is refused with a message), POST /fine_tuning/jobs, and GET /fine_tuning/jobs/ID, which moves the job
validating_files → queued → running → succeeded (a base model whose name contains "fail" fails instead, with a
reason), GET …/events and POST …/cancel.

And DashScope's native fine-tuning API, under /api/v1 (the chat stays at …/compatible-mode/v1/chat/completions):
POST /api/v1/files (multipart `files`; a file containing REJECT_FILE is listed in failed_uploads with a message),
POST /api/v1/fine-tunes, GET /api/v1/fine-tunes/ID (PENDING → QUEUING → RUNNING → SUCCEEDED with finetuned_output, or
FAILED with a message for a base model containing "fail"), POST …/cancel and GET …/logs.

A tuned model (an OpenAI `ft:…` name or a DashScope finetuned_output) is answered only once a job here produced it:
any other `ft:` model is refused with 404, as a provider refuses a model that does not exist.

Usage: python3 scripts/fake_openai_server.py [PORT]   (0 or nothing: any free port; the port is printed first)
FAKE_DELAY_MS=50 makes every chat answer take that long (for benchmarks).
"""
import json
import os
import re
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DELAY = float(os.environ.get("FAKE_DELAY_MS", "0")) / 1000
SOURCE = re.compile(r'<source\s[^>]*>\s*(.*?)\s*</source>', re.S)
SENTENCE = re.compile(r'[^。！？!?.]*[。！？!?.]?')


def first_sentence(text):
    sentences = [x.strip() for x in SENTENCE.findall(text.replace("\n", " ")) if x.strip()]
    return sentences[0] if sentences else text.strip()


def teacher(system, user):
    """The fake teacher's reply to a prompt of `wendao tune`, or None for other prompts."""
    sources = SOURCE.findall(user)
    if "You write training questions" in system and "compares or relates" not in system and sources:
        src = sources[0]
        if "TEACHER_MALFORMED" in src:
            return "Sorry, I cannot help with that."
        topic = first_sentence(src)[:14].strip(" ：:，,。")
        tag = sum(map(ord, src)) % 997
        keys = re.findall(r'"(\w+)"', system.split("exactly these keys:")[-1])
        chinese = bool(re.search(r'[\u4e00-\u9fff]', src))
        q = {
            "factual": f"「{topic}」具体是怎么规定的？" if chinese else f"What exactly does it say about {topic}?",
            "howto": (f"办理「{topic}」需要怎么做？" if chinese else f"How do I go about {topic}?")
            if re.search(r"步骤|流程|如何|怎么|\d[.、]|step", src, re.I) else "",
            "colloquial": f"问下哈，{topic}这个是咋回事呀？" if chinese else f"hey quick one, {topic} - what's the deal?",
            "crosslingual": f"What does the document say about item {tag}?" if chinese else f"关于第{tag}条，文件是怎么说的？",
            "unanswerable": f"第{tag}号仓库里养的猫叫什么名字？" if chinese else f"What is the name of the cat in warehouse {tag}?",
        }
        return json.dumps({k: q.get(k, "") for k in keys}, ensure_ascii=False)
    if "compares or relates" in system and len(sources) >= 2:
        a, b = first_sentence(sources[0])[:12], first_sentence(sources[1])[:12]
        return json.dumps({"question": f"「{a}」和「{b}」有什么不同？"}, ensure_ascii=False)
    if "You are the teacher" in system:
        question = re.search(r"<question>\s*(.*?)\s*</question>", user, re.S)
        question = question.group(1) if question else ""
        src = sources[0] if sources else ""
        if "TEACHER_EMPTY" in src:
            return ""
        if "TEACHER_REFUSE" in src:
            return "知识库中没有找到答案。"
        if "TEACHER_ECHO" in src:
            return question
        if not re.search(r'[\u4e00-\u9fff]', question) and re.search(r'[\u4e00-\u9fff]', src):
            doc = re.search(r'document="([^"]*)"', user)
            return f"The passage of {doc.group(1) if doc else 'the source'} covers this [1]."
        return " ".join(f"{first_sentence(x)} [{i + 1}]" for i, x in enumerate(sources[:2]))
    if "wendao-tune-support-v1" in system:
        return '{"supported": true, "reason": "the answer restates the source"}'
    return None


def answer(messages):
    system = next((m.get("content", "") for m in messages if m.get("role") == "system"), "")
    user = messages[-1].get("content", "") if messages else ""
    reply = teacher(system, user)
    if reply is not None:
        return reply
    if "wendao-judge-v1-pairwise" in system:
        return '{"winner": "tie", "reason": "both answers state the same fact"}'
    if "wendao-judge-v1" in system:
        return '{"faithfulness": 4, "relevance": 4, "correctness": 4, "reason": "answers from the cited source"}'
    if "Translate the search query" in user or "Rewrite the follow-up" in user:
        m = re.search(r'<(?:query|follow_up)>(.*?)</', user, re.S)
        return m.group(1).strip() if m else ""
    sources = SOURCE.findall(user)
    if not sources:
        return "知识库中没有找到答案。"
    sentences = [s.strip() for s in SENTENCE.findall(sources[0].replace("\n", " ")) if s.strip()]
    count = 2 if "conditions or exceptions" in system else 1
    return " ".join(s + " [1]" for s in sentences[:count]) or "知识库中没有找到答案。"


FILES = {}
JOBS = {}
STEPS = ["validating_files", "queued", "running"]
TUNED = set()  # models the fake jobs produced
DS_FILES = {}
DS_JOBS = {}
DS_STEPS = ["PENDING", "QUEUING", "RUNNING"]


def dashscope(method, path, body):
    """The fake DashScope fine-tuning API (native, /api/v1/…): (status, JSON body), or None for other paths."""
    query = path.split("?")[1] if "?" in path else ""
    path = path.split("?")[0].rstrip("/")
    if not path.startswith("/api/v1/"):
        return None
    rid = {"request_id": "fake-request"}
    if method == "POST" and path == "/api/v1/files":
        text = body.decode("utf-8", "replace")
        name = re.search(r'name="files"; filename="([^"]*)"', text)
        if not name:
            return 400, {**rid, "code": "InvalidParameter", "message": "Missing files"}
        if "REJECT_FILE" in text:
            return 200, {**rid, "data": {"uploaded_files": [], "failed_uploads": [
                {"name": name.group(1), "code": "InvalidFileFormat",
                 "message": "line 1: the messages must alternate user and assistant"}]}}
        fid = f"ds-file-{len(DS_FILES) + 1}"
        DS_FILES[fid] = name.group(1)
        return 200, {**rid, "data": {"uploaded_files": [{"file_id": fid, "name": name.group(1)}], "failed_uploads": []}}
    m = re.match(r"^/api/v1/fine-tunes(?:/([^/]+))?(?:/(cancel|logs))?$", path)
    if not m:
        return 404, {**rid, "code": "NotFound", "message": "Not found!"}
    job_id, action = m.group(1), m.group(2)
    if method == "POST" and job_id is None:
        request = json.loads(body or b"{}")
        files = request.get("training_file_ids") or []
        if not files or any(f not in DS_FILES for f in files):
            return 400, {**rid, "code": "InvalidParameter", "message": "Missing training files"}
        jid = f"ft-202612071200-{len(DS_JOBS) + 1:04d}"
        DS_JOBS[jid] = {"job_id": jid, "job_name": jid, "status": "PENDING", "model": request.get("model"),
                        "base_model": request.get("model"), "training_file_ids": files,
                        "validation_file_ids": request.get("validation_file_ids") or [],
                        "hyper_parameters": request.get("hyper_parameters") or {"n_epochs": 3},
                        "training_type": request.get("training_type", "sft"),
                        "suffix": request.get("finetuned_output_suffix") or "ft",
                        "logs": ["2026-12-07 12:00:00,000 - INFO - job created"]}
        return 200, {**rid, "output": public(DS_JOBS[jid])}
    job = DS_JOBS.get(job_id)
    if job is None:
        return 404, {**rid, "code": "NotFound", "message": "Not found!"}
    if action == "logs":
        offset = int((re.search(r"offset=(\d+)", query) or [0, 0])[1])
        line = int((re.search(r"line=(\d+)", query) or [0, 100])[1])
        return 200, {**rid, "output": {"total": len(job["logs"]), "logs": job["logs"][offset:offset + line]}}
    if action == "cancel" and method == "POST":
        if job["status"] in ("SUCCEEDED", "FAILED", "CANCELED"):
            return 400, {**rid, "code": "UnsupportedOperation",
                         "message": "The fine-tuning job cannot be canceled because it is succeeded, failed, or canceled"}
        job["status"] = "CANCELED"
        job["logs"].append("2026-12-07 12:00:03,000 - INFO - job canceled")
        return 200, {**rid, "output": {"status": "success"}}
    if method == "GET" and action is None:
        if job["status"] in DS_STEPS:
            i = DS_STEPS.index(job["status"])
            if i + 1 < len(DS_STEPS):
                job["status"] = DS_STEPS[i + 1]
                job["logs"].append(f"2026-12-07 12:00:0{i + 1},000 - INFO - job {DS_STEPS[i + 1].lower()}")
            elif "fail" in (job["model"] or ""):
                job["status"] = "FAILED"
                job["code"] = "TrainingFailed"
                job["message"] = "Training failed after 1 hour: the loss did not converge"
                job["logs"].append("2026-12-07 13:00:00,000 - ERROR - " + job["message"])
            else:
                job["status"] = "SUCCEEDED"
                job["finetuned_output"] = f"{job['model']}-{job['suffix']}-{job['job_id']}"
                TUNED.add(job["finetuned_output"])
                job["logs"] += [" Fine-tune succeeded!", "2026-12-07 12:30:00,000 - INFO - ##FT_COMPLETE##"]
        return 200, {**rid, "output": public(job)}
    return 404, {**rid, "code": "NotFound", "message": "Not found!"}


def public(job):
    return {k: v for k, v in job.items() if k not in ("logs", "suffix")}


def fine_tuning(method, path, body, headers):
    """The fake fine-tuning API: (status, JSON body), or None for other paths."""
    path = path.split("?")[0].rstrip("/")
    if method == "POST" and path.endswith("/files"):
        text = body.decode("utf-8", "replace")
        if "REJECT_FILE" in text:
            return 400, {"error": {"message": "Invalid file format: example 1 has no 'messages' key",
                                   "type": "invalid_request_error", "code": "invalid_file"}}
        name = re.search(r'filename="([^"]*)"', text)
        fid = f"file-{len(FILES) + 1}"
        FILES[fid] = {"id": fid, "object": "file", "purpose": "fine-tune", "bytes": len(body),
                      "filename": name.group(1) if name else "upload.jsonl"}
        return 200, FILES[fid]
    m = re.search(r"/fine_tuning/jobs(?:/([^/]+))?(?:/(events|cancel))?$", path)
    if not m:
        return None
    job_id, action = m.group(1), m.group(2)
    if method == "POST" and job_id is None:
        request = json.loads(body or b"{}")
        if request.get("training_file") not in FILES:
            return 400, {"error": {"message": f"file {request.get('training_file')} not found"}}
        jid = f"ftjob-{len(JOBS) + 1}"
        JOBS[jid] = {"id": jid, "object": "fine_tuning.job", "model": request.get("model"), "status": "validating_files",
                     "training_file": request.get("training_file"), "validation_file": request.get("validation_file"),
                     "fine_tuned_model": None, "error": None, "suffix": request.get("suffix"),
                     "events": [{"created_at": int(time.time()), "level": "info", "message": "Created fine-tuning job"}]}
        return 200, {k: v for k, v in JOBS[jid].items() if k != "events"}
    job = JOBS.get(job_id)
    if job is None:
        return 404, {"error": {"message": f"no fine-tuning job {job_id}"}}
    if action == "events":
        return 200, {"object": "list", "data": list(reversed(job["events"]))}
    if action == "cancel" and method == "POST":
        if job["status"] not in ("succeeded", "failed", "cancelled"):
            job["status"] = "cancelled"
            job["events"].append({"created_at": int(time.time()), "level": "info", "message": "Job cancelled"})
        return 200, {k: v for k, v in job.items() if k != "events"}
    if method == "GET" and action is None:
        if job["status"] in STEPS:
            i = STEPS.index(job["status"])
            if i + 1 < len(STEPS):
                job["status"] = STEPS[i + 1]
                job["events"].append({"created_at": int(time.time()), "level": "info",
                                      "message": f"Job {STEPS[i + 1].replace('_', ' ')}"})
            elif "fail" in (job["model"] or ""):
                job["status"] = "failed"
                job["error"] = {"code": "training_failed", "message": "Training diverged after 1 hour: loss became NaN"}
                job["events"].append({"created_at": int(time.time()), "level": "error", "message": job["error"]["message"]})
            else:
                job["status"] = "succeeded"
                job["fine_tuned_model"] = f"ft:{job['model']}:wendao:{job['suffix'] or job['id']}"
                TUNED.add(job["fine_tuned_model"])
                job["events"].append({"created_at": int(time.time()), "level": "info",
                                      "message": "The job has successfully completed"})
        return 200, {k: v for k, v in job.items() if k != "events"}
    return 404, {"error": {"message": "not found"}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, status, body):
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        native = dashscope("GET", self.path, b"")
        if native is not None:
            return self.send_json(*native)
        tuned = fine_tuning("GET", self.path, b"", self.headers)
        if tuned is not None:
            return self.send_json(*tuned)
        if self.path.rstrip("/").endswith("/models"):
            self.send_json(200, {"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model"}]})
        else:
            self.send_json(404, {"error": {"message": "not found"}})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        native = dashscope("POST", self.path, raw)
        if native is not None:
            return self.send_json(*native)
        tuned = fine_tuning("POST", self.path, raw, self.headers)
        if tuned is not None:
            return self.send_json(*tuned)
        try:
            request = json.loads(raw or b"{}")
        except ValueError:
            return self.send_json(400, {"error": {"message": "not JSON"}})
        if not self.path.rstrip("/").endswith("/chat/completions"):
            return self.send_json(404, {"error": {"message": "not found"}})
        messages = request.get("messages") or []
        model = request.get("model", "fake")
        if (model.startswith("ft:") or "-ft-" in model) and model not in TUNED:
            return self.send_json(404, {"error": {"message": f"The model `{model}` does not exist",
                                                  "type": "invalid_request_error", "code": "model_not_found"}})
        text = answer(messages)
        time.sleep(DELAY)
        prompt_tokens = sum(len(m.get("content", "")) for m in messages) // 2 + 1
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(text) // 2 + 1}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        reasoning = "Let me read the source first. " if "reasoner" in model and text else None
        if not request.get("stream"):
            return self.send_json(200, {
                "id": "fake", "object": "chat.completion", "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": usage})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        chunks = [
            {"id": "fake", "object": "chat.completion.chunk", "model": model,
             "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]},
            {"id": "fake", "object": "chat.completion.chunk", "model": model,
             "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            {"id": "fake", "object": "chat.completion.chunk", "model": model, "choices": [], "usage": usage},
        ]
        if reasoning:
            chunks.insert(0, {"id": "fake", "object": "chat.completion.chunk", "model": model,
                              "choices": [{"index": 0, "delta": {"reasoning_content": reasoning}, "finish_reason": None}]})
        for c in chunks:
            self.wfile.write(("data: " + json.dumps(c, ensure_ascii=False) + "\n\n").encode())
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
