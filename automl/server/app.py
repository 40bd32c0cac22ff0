"""The HTTP routes: TF Serving's REST API, KServe's v2 protocol and the demo page.

TF Serving (https://www.tensorflow.org/tfx/serving/api_rest):
    GET  /v1/models/NAME                 status
    GET  /v1/models/NAME/metadata        signature, classes, what the input accepts
    POST /v1/models/NAME:predict         {"instances": [...]} or {"inputs": [...]}
KServe v2 / Open Inference Protocol:
    GET  /v2/health/live, /v2/health/ready, /v2/models/NAME, /v2/models/NAME/ready
    POST /v2/models/NAME/infer           typed tensors (BYTES, FP32, ...)
    POST /v2/repository/index            the models served
The demo page is `/`. Every error is `{"error": "one line"}` with a 4xx status (5xx
only for the server's own faults); `/versions/1` may follow a model's name.
"""

import asyncio
import contextlib
import json
import os

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException

import automl
from automl.errors import first_line
from automl.server.codec import RequestError
from automl.server.models import VERSION

PAGE = os.path.join(os.path.dirname(__file__), "static", "index.html")
NUMERIC = {"FP16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16",
           "UINT32", "UINT64"}


@contextlib.asynccontextmanager
async def _lifespan(app):
    for model in app.state.models.values():
        model.batcher.start()
    yield
    for model in app.state.models.values():
        await model.batcher.stop()


def create_app(models, max_request_bytes=16 * 2**20, timeout=30.0):
    """The server's app for `{name: ServedModel}`: bodies over `max_request_bytes` get 413,
    predictions not answered within `timeout` seconds get 504."""
    app = FastAPI(title="keras-automl", lifespan=_lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.models = models
    app.state.max_request_bytes = int(max_request_bytes)
    app.state.timeout = float(timeout)
    with open(PAGE, encoding="utf-8") as handle:
        page = handle.read()

    @app.exception_handler(RequestError)
    async def request_error(request, error):
        return JSONResponse({"error": str(error)}, status_code=error.status)

    @app.exception_handler(HTTPException)
    async def http_error(request, error):
        message = {404: f"no route {request.method} {request.url.path}",
                   405: f"{request.method} is not allowed on {request.url.path}"}
        return JSONResponse({"error": message.get(error.status_code, str(error.detail))},
                            status_code=error.status_code, headers=error.headers)

    @app.exception_handler(Exception)
    async def server_error(request, error):
        return JSONResponse({"error": f"server error: {first_line(error)}"}, status_code=500)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def demo_page():
        return page

    # TF Serving -------------------------------------------------------------------

    @app.get("/v1/models/{name}")
    @app.get("/v1/models/{name}/versions/{version}")
    async def tf_status(name, version=VERSION):
        _model(app, name, version)
        return {"model_version_status": [{"version": VERSION, "state": "AVAILABLE",
                                          "status": {"error_code": "OK", "error_message": ""}}]}

    @app.get("/v1/models/{name}/metadata")
    @app.get("/v1/models/{name}/versions/{version}/metadata")
    async def tf_metadata(name, version=VERSION):
        model = _model(app, name, version)
        return {"model_spec": {"name": name, "signature_name": "", "version": VERSION},
                "metadata": {"signature_def": {"signature_def": {
                    "serving_default": _signature_def(model)}}},
                "automl": model.card_summary()}

    @app.post("/v1/models/{name}:predict")
    @app.post("/v1/models/{name}/versions/{version}:predict")
    async def tf_predict(name, request: Request, version=VERSION):
        model = _model(app, name, version)
        body = await _json_body(request, app.state.max_request_bytes)
        values, columnar, top_k = _tf_request(body, request)
        outputs = await _within(app, model.predict(values))
        answers = [_bare(answer) for answer in model.answers(outputs, top_k)]
        if not columnar:
            return {"predictions": answers}
        if not isinstance(answers[0], dict):
            return {"outputs": answers}
        return {"outputs": {key: [answer[key] for answer in answers] for key in answers[0]}}

    # KServe v2 ----------------------------------------------------------------------

    @app.get("/v2")
    async def v2_server():
        return {"name": "keras-automl", "version": automl.__version__, "extensions": []}

    @app.get("/v2/health/live")
    async def v2_live():
        return {"live": True}

    @app.get("/v2/health/ready")
    async def v2_ready():
        return {"ready": True}

    @app.post("/v2/repository/index")
    async def v2_index():
        return [{"name": name, "version": VERSION, "state": "READY", "reason": ""}
                for name in app.state.models]

    @app.get("/v2/models/{name}")
    @app.get("/v2/models/{name}/versions/{version}")
    async def v2_metadata(name, version=VERSION):
        model = _model(app, name, version)
        spec = model.card["input"]
        return {"name": name, "versions": [VERSION], "platform": model.platform,
                "inputs": [{"name": spec["name"], "datatype": _v2_type(spec["dtype"]),
                            "shape": [-1 if s is None else s for s in spec["shape"]]}],
                "outputs": [{"name": key, "datatype": _v2_type(dtype), "shape": shape}
                            for key, (dtype, shape) in model.outputs().items()],
                "parameters": model.card_summary()}

    @app.get("/v2/models/{name}/ready")
    @app.get("/v2/models/{name}/versions/{version}/ready")
    async def v2_model_ready(name, version=VERSION):
        _model(app, name, version)
        return {"name": name, "ready": True}

    @app.post("/v2/models/{name}/infer")
    @app.post("/v2/models/{name}/versions/{version}/infer")
    async def v2_infer(name, request: Request, version=VERSION):
        model = _model(app, name, version)
        body = await _json_body(request, app.state.max_request_bytes)
        values, top_k, wanted = _v2_request(body, model)
        outputs = await _within(app, model.predict(values, "element"))
        tensors = _v2_outputs(model, model.answers(outputs, top_k), top_k or 1)
        if wanted:
            unknown = sorted(set(wanted) - {t["name"] for t in tensors})
            if unknown:
                raise RequestError(f"unknown outputs {', '.join(unknown)} (this model has "
                                   f"{', '.join(t['name'] for t in tensors)})")
            tensors = [t for t in tensors if t["name"] in wanted]
        answer = {"model_name": name, "model_version": VERSION, "outputs": tensors}
        if "id" in body:
            answer["id"] = body["id"]
        return answer

    return app


def _model(app, name, version):
    models = app.state.models
    if name.endswith(":predict") and name[:-len(":predict")] in models:
        raise RequestError(":predict takes POST", 405)
    if name not in models:
        raise RequestError(f"no model named '{name}' (serving: {', '.join(models)})", 404)
    if str(version) != VERSION:
        raise RequestError(f"model '{name}' has no version {version} (it has version "
                           f"{VERSION})", 404)
    return models[name]


async def _json_body(request, limit):
    """The request's JSON body, refused (413) once it grows past `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise RequestError(f"the request body is {int(declared)} bytes, more than the limit "
                           f"of {limit} (--max-request-mb)", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(f"the request body is more than the limit of {limit} bytes "
                               "(--max-request-mb)", 413)
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        raise RequestError("empty request body: send a JSON object")
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise RequestError("the request body is not UTF-8 JSON") from None
    except json.JSONDecodeError as error:
        raise RequestError(f"malformed JSON: {error.msg} at line {error.lineno} column "
                           f"{error.colno}") from None


async def _within(app, work):
    """`work`'s result, or 504 after the server's time limit."""
    try:
        return await asyncio.wait_for(work, app.state.timeout)
    except asyncio.TimeoutError:
        raise RequestError(f"no answer within {app.state.timeout:g} s (--timeout)", 504) from None


def _top_k(value):
    if value is None:
        return None
    if isinstance(value, bool) or not str(value).isdigit() or int(value) < 1:
        raise RequestError(f"top_k must be a whole number of at least 1, got {value!r}")
    return int(value)


def _tf_request(body, request):
    """`(values, columnar, top_k)` of a TF Serving predict request."""
    if not isinstance(body, dict):
        raise RequestError('the request must be a JSON object with "instances" or "inputs"')
    signature = body.get("signature_name", "serving_default")
    if signature not in ("serving_default", ""):
        raise RequestError(f"no signature '{signature}' (this model has serving_default)")
    unknown = sorted(set(body) - {"instances", "inputs", "signature_name", "top_k"})
    if unknown:
        raise RequestError(f"unknown keys {', '.join(unknown)} (a predict request has "
                           '"instances" or "inputs", and may have "signature_name", "top_k")')
    if ("instances" in body) == ("inputs" in body):
        raise RequestError('give either "instances" (rows) or "inputs" (columns)')
    top_k = _top_k(body.get("top_k", request.query_params.get("top_k")))
    if "instances" in body:
        values = body["instances"]
        what = '"instances"'
    else:
        values = body["inputs"]
        if isinstance(values, dict) and set(values) != {"b64"}:
            if set(values) != {"inputs"}:
                raise RequestError(f"unknown inputs {', '.join(sorted(values))} (this model's "
                                   "input is named inputs)")
            values = values["inputs"]
        what = '"inputs"'
    if not isinstance(values, list):
        raise RequestError(f"{what} must be a list with one value per example")
    if not values:
        raise RequestError(f"{what} is empty: nothing to predict")
    return values, "inputs" in body, top_k


def _bare(answer):
    """An answer with a single output (a regression's value) as TF Serving writes it: bare."""
    return next(iter(answer.values())) if len(answer) == 1 else answer


def _v2_type(dtype):
    return {"string": "BYTES", "bool": "BOOL", "float32": "FP32"}.get(dtype, dtype.upper())


def _v2_request(body, model):
    """`(values, top_k, wanted output names)` of a KServe v2 infer request."""
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise RequestError('the request must be a JSON object with an "inputs" list of tensors')
    tensors = body["inputs"]
    name = model.card["input"]["name"]
    if len(tensors) != 1 or not isinstance(tensors[0], dict):
        raise RequestError(f"give one input tensor, named {name}")
    tensor = tensors[0]
    for key in ("name", "shape", "datatype", "data"):
        if key not in tensor:
            raise RequestError(f"the input tensor has no \"{key}\"")
    if tensor["name"] != name:
        raise RequestError(f"unknown input '{tensor['name']}' (this model's input is {name})")
    shape = tensor["shape"]
    if not isinstance(shape, list) or not shape or \
            not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
        raise RequestError(f"the input's shape must be a list of sizes, got {shape!r}")
    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise RequestError('"parameters" must be an object')
    top_k = _top_k(parameters.get("top_k"))
    wanted = [o.get("name") for o in body.get("outputs") or [] if isinstance(o, dict)]
    datatype = tensor["datatype"]
    if datatype == "BYTES":
        return _v2_bytes(tensor["data"], shape, model), top_k, wanted
    if datatype in NUMERIC:
        return _v2_numbers(tensor["data"], shape, datatype, model), top_k, wanted
    raise RequestError(f"unsupported datatype '{datatype}' (BYTES for encoded files and "
                       "texts, FP32 for arrays)")


def _v2_bytes(data, shape, model):
    elements = list(_flat(data))
    if int(np.prod(shape)) != len(elements) or len(shape) > 2 or \
            (len(shape) == 2 and shape[1] != 1):
        raise RequestError(f"a BYTES input has shape [N] (or [N, 1]) with N elements; got "
                           f"shape {shape} and {len(elements)} elements")
    values = []
    for i, element in enumerate(elements):
        if isinstance(element, dict):
            values.append(element)
        elif not isinstance(element, str):
            raise RequestError(f"element {i}: BYTES elements are strings, got "
                               f"{type(element).__name__}")
        elif model.decoder.text:
            values.append(element)
        else:
            values.append({"b64": element})
    return values


def _v2_numbers(data, shape, datatype, model):
    if model.decoder.text:
        raise RequestError(f"this text model takes a BYTES tensor of strings, not {datatype}")
    try:
        array = np.asarray(list(_flat(data)), dtype="float32")
    except (TypeError, ValueError):
        raise RequestError(f"the {datatype} data holds values that are not numbers") from None
    if array.size != int(np.prod(shape)):
        raise RequestError(f"shape {shape} needs {int(np.prod(shape))} values; the data has "
                           f"{array.size}")
    if len(shape) < 2:
        raise RequestError(f"a {datatype} input has a batch dimension first: [N, ...], got "
                           f"shape {shape}")
    return [row.tolist() for row in array.reshape(shape)]


def _flat(data):
    """The elements of a tensor's data, flat or nested (row-major)."""
    if isinstance(data, list):
        for item in data:
            yield from _flat(item)
    else:
        yield data


def _v2_outputs(model, answers, top_k):
    """The answers as v2 output tensors."""
    n = len(answers)
    if model.problem == "regression":
        return [_tensor("value", "FP32", [n], [a["value"] for a in answers])]
    classes = len(model.classes)
    tensors = [_tensor("probabilities", "FP32", [n, classes],
                       [p for a in answers for p in a["probabilities"]])]
    if model.problem == "multilabel":
        separator = model.exported.separator
        tensors.append(_tensor("labels", "BYTES", [n],
                               [separator.join(a["labels"]) for a in answers]))
    else:
        tensors.append(_tensor("label", "BYTES", [n], [a["label"] for a in answers]))
    k = min(top_k, classes)
    tensors.append(_tensor("top_k_labels", "BYTES", [n, k],
                           [r["label"] for a in answers for r in a["top_k"][:k]]))
    tensors.append(_tensor("top_k_probabilities", "FP32", [n, k],
                           [r["probability"] for a in answers for r in a["top_k"][:k]]))
    return tensors


def _tensor(name, datatype, shape, data):
    return {"name": name, "datatype": datatype, "shape": shape, "data": data}


def _signature_def(model):
    """`serving_default` as TF Serving's metadata describes a signature."""
    spec = model.card["input"]
    types = {"float32": "DT_FLOAT", "string": "DT_STRING", "bool": "DT_BOOL"}

    def tensor(name, dtype, shape):
        return {"dtype": types.get(dtype, dtype), "name": f"serving_default_{name}:0",
                "tensor_shape": {"dim": [{"size": str(-1 if s is None else s), "name": ""}
                                         for s in shape], "unknown_rank": False}}

    return {"inputs": {spec["name"]: tensor(spec["name"], spec["dtype"], spec["shape"])},
            "outputs": {key: tensor(key, dtype, shape)
                        for key, (dtype, shape) in model.outputs().items()},
            "method_name": "tensorflow/serving/predict"}
