"""Regenerate the sample platform events in this folder: ``python -m tests.events.make_events``.

Each event has the documented shape of its trigger (shared/reference/tencent-cloud.md §1, with the
source of each shape in the README beside this file) and carries a tiny synthetic chest film (a
grayscale JPEG of about 1 KB), so the files stay small. The identifiers are made up.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).parent
APPID = "1250000000"
BUCKET = "xiaofei"  # COS bucket name without the -APPID suffix (as COS events carry it)
UPLOAD_KEY = "uploads/u7f3a9c2e41b8d605/01jd8m3k2q4w6e8r0t2y4u6i8o.jpg"


def tiny_film() -> bytes:
    """A 96×96 grayscale 'chest film': dark background, two lung fields, a spine and some noise."""
    img = Image.new("L", (96, 96), 18)
    draw = ImageDraw.Draw(img)
    draw.ellipse((14, 14, 44, 84), fill=70)
    draw.ellipse((52, 14, 82, 84), fill=70)
    draw.rectangle((45, 8, 51, 92), fill=200)
    for y in range(20, 80, 9):
        draw.arc((12, y - 6, 84, y + 10), 200, 340, fill=170, width=2)
    img = img.filter(ImageFilter.GaussianBlur(1.2))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=60, optimize=True)
    return buf.getvalue()


def events() -> dict[str, Any]:
    image = base64.b64encode(tiny_film()).decode()
    body = json.dumps({"image": image, "model": "pneumonia"})
    browser = {
        "accept": "application/json",
        "accept-language": "zh-CN,zh;q=0.9,en;q=0.8",
        "content-type": "application/json",
        "origin": "https://xiaofei.example.com",
        "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0",
    }
    return {
        # API Gateway trigger (583/31439, scf-go-lib events/apigw.go): no top-level isBase64Encoded.
        "apigw_predict.json": {
            "requestContext": {
                "serviceId": "service-f94sy04v",
                "path": "/predict",
                "httpMethod": "POST",
                "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
                "identity": {"secretId": "abdcdxxxxxxxsdfs"},
                "sourceIp": "203.0.113.7",
                "stage": "release",
            },
            "headers": {
                **{k.title(): v for k, v in browser.items()},
                "Host": "service-f94sy04v-1250000000.sh.apigw.tencentcs.com",
            },
            "body": body,
            "pathParameters": {},
            "queryStringParameters": {},
            "headerParameters": {},
            "stageVariables": {"stage": "release"},
            "path": "/release/predict",
            "queryString": {},
            "httpMethod": "POST",
        },
        # Function URL (583/96099): API Gateway's shape without requestContext, headerParameters,
        # isBase64Encoded, pathParameters, queryStringParameters; the client IP in x-scf-remote-addr.
        "function_url_predict.json": {
            "body": body,
            "headers": {
                **browser,
                "host": f"{APPID}-4kq8zw3hxn.ap-shanghai.tencentscf.com",
                "x-scf-remote-addr": "203.0.113.7",
            },
            "httpMethod": "POST",
            "path": "/predict",
            "queryString": {},
        },
        "function_url_history.json": {
            "body": "",
            "headers": {
                "accept": "application/json",
                "host": f"{APPID}-9p2mtd6vyc.ap-shanghai.tencentscf.com",
                "x-scf-remote-addr": "203.0.113.7",
            },
            "httpMethod": "GET",
            "path": "/history",
            "queryString": {"limit": "10"},
        },
        # CloudBase HTTP access service (docs.cloudbase.net/service/access-cloud-function).
        "cloudbase_http.json": {
            "path": "/predict",
            "httpMethod": "POST",
            "headers": {**browser, "host": "xiaofei-1a2b3c-1250000000.ap-shanghai.app.tcloudbase.com"},
            "queryStringParameters": {},
            "requestContext": {
                "requestId": "d0c4b8e2-1f3a-4c5d-9e6f-7a8b9c0d1e2f",
                "envId": "xiaofei-1a2b3c",
                "appId": APPID,
                "uin": "100000000001",
            },
            "body": body,
            "isBase64Encoded": False,
        },
        # COS trigger (583/31439 + the newer fields of a real event): key is /<appid>/<bucket>/<key>.
        "cos_upload.json": {
            "Records": [
                {
                    "cos": {
                        "cosSchemaVersion": "1.0",
                        "cosObject": {
                            "url": f"https://{BUCKET}-{APPID}.cos.ap-shanghai.myqcloud.com/{UPLOAD_KEY}",
                            "meta": {
                                "x-cos-request-id": "NjVmYjA3ZDRfMmQ5YjJhMDlfMjM1NF8x",
                                "Content-Type": "image/jpeg",
                            },
                            "vid": "",
                            "key": f"/{APPID}/{BUCKET}/{UPLOAD_KEY}",
                            "size": 1029,
                        },
                        "cosBucket": {
                            "region": "sh",
                            "name": BUCKET,
                            "appid": APPID,
                            "cosRegion": "ap-shanghai",
                            "s3Region": "ap-shanghai",
                        },
                        "cosNotificationId": "unkown",
                    },
                    "event": {
                        "eventName": "cos:ObjectCreated:Put",
                        "eventVersion": "1.0",
                        "eventTime": 1763766000,
                        "eventSource": "qcs::cos",
                        "requestParameters": {
                            "requestSourceIP": "203.0.113.7",
                            "requestHeaders": {"Authorization": "q-sign-algorithm=sha1&q-ak=…"},
                        },
                        "eventQueue": f"qcs:0:scf:sh:appid/{APPID}:default.predict-xiaofei-prod.$DEFAULT",
                        "reservedInfo": "",
                        "reqid": 179398952,
                    },
                }
            ]
        },
        # Mini program cloud call: the event is the client's `data` (+ the legacy userInfo the platform
        # may inject); the caller comes from the context (context_wx.json), never from here.
        "cloud_call_predict.json": {
            "image": image,
            "model": "pneumonia",
            "userInfo": {"appId": "wx0123456789abcdef", "openId": "oXf9b-5Yz3kQd1mJp7R2sT4uV6w"},
        },
        "cloud_call_history.json": {
            "action": "list",
            "limit": 10,
            "userInfo": {"appId": "wx0123456789abcdef", "openId": "oXf9b-5Yz3kQd1mJp7R2sT4uV6w"},
        },
        # The context of a mini program call (583/9210 + @cloudbase/node-sdk parseContext): WX_* in
        # `environment` (JSON, new architecture) and `environ` (key=value;…, old architecture).
        "context_wx.json": _context(
            "predict",
            {
                "SCF_NAMESPACE": "xiaofei-1a2b3c",
                "TCB_ENV": "xiaofei-1a2b3c",
                "TCB_SOURCE": "wx_client,scf",
                "WX_OPENID": "oXf9b-5Yz3kQd1mJp7R2sT4uV6w",
                "WX_APPID": "wx0123456789abcdef",
                "WX_CONTEXT_KEYS": "WX_OPENID,WX_APPID",
                "TCB_CONTEXT_KEYS": "TCB_ENV,TCB_SOURCE",
            },
        ),
        # The context of an HTTP, COS or timer invocation: no caller in it.
        "context_scf.json": _context("predict", {"SCF_NAMESPACE": "default"}),
    }


def _context(function: str, environment: dict[str, str]) -> dict[str, Any]:
    return {
        "callbackWaitsForEmptyEventLoop": True,
        "memory_limit_in_mb": 1024,
        "time_limit_in_ms": 30000,
        "request_id": "279b5b4e-8a6c-4a0e-9d2f-0c1b2a3d4e5f",
        "environment": json.dumps(environment),
        "environ": ";".join(f"{k}={v}" for k, v in environment.items()),
        "function_version": "$LATEST",
        "function_name": function,
        "namespace": environment.get("SCF_NAMESPACE", "default"),
        "tencentcloud_region": "ap-shanghai",
        "tencentcloud_appid": APPID,
        "tencentcloud_uin": "100000000001",
    }


def main() -> None:
    for name, event in events().items():
        (HERE / name).write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
