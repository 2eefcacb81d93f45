#!/usr/bin/env python3
"""The source of Quill's OpenAPI 3.1 document.  The build runs this script and embeds its
output in quill-api (GET /v1/openapi.json); the e2e suite validates the result and checks
that it lists exactly the routes the router serves.  Add every new route here."""
import json
import sys

PROBLEM_CODES = [
    'malformed_json', 'validation_failed', 'unauthenticated', 'invalid_credentials',
    'forbidden', 'not_found', 'method_not_allowed', 'conflict', 'email_taken',
    'idempotency_in_progress', 'precondition_failed', 'payload_too_large',
    'unsupported_media_type', 'idempotency_key_reused', 'rate_limited', 'quota_exceeded',
    'internal', 'unavailable',
    # HTTP-level codes for requests that never reach a route
    'bad_request', 'headers_too_large',
]

schemas = {
    'Problem': {
        'type': 'object',
        'description': 'RFC 9457 problem details.',
        'required': ['type', 'title', 'status', 'detail', 'code', 'traceId'],
        'properties': {
            'type': {'type': 'string'},
            'title': {'type': 'string'},
            'status': {'type': 'integer'},
            'detail': {'type': 'string'},
            'code': {'type': 'string', 'enum': PROBLEM_CODES},
            'traceId': {'type': 'string', 'pattern': '^[0-9a-f]{32}$'},
            'errors': {'type': 'array', 'items': {
                'type': 'object', 'required': ['field', 'code', 'message'],
                'properties': {'field': {'type': 'string'}, 'code': {'type': 'string'},
                               'message': {'type': 'string'}}}},
            'checks': {'type': 'object', 'additionalProperties': {'type': 'string'}},
        },
    },
    'Health': {
        'type': 'object', 'required': ['status'],
        'properties': {
            'status': {'type': 'string', 'enum': ['ok']},
            'checks': {'type': 'object', 'properties': {
                'database': {'type': 'string'}, 'migrations': {'type': 'string'}}},
        },
    },
    'Version': {
        'type': 'object', 'required': ['version', 'gitSha', 'builtAt', 'dependencies'],
        'properties': {
            'version': {'type': 'string'},
            'gitSha': {'type': 'string'},
            'builtAt': {'type': 'string', 'format': 'date-time'},
            'dependencies': {'type': 'object', 'additionalProperties': {'type': 'string'}},
        },
    },
}

STATUS_TEXT = {
    400: 'Malformed request or JSON', 401: 'Not authenticated', 403: 'Forbidden',
    404: 'Not found', 405: 'Method not allowed', 409: 'Conflict',
    412: 'Precondition failed', 413: 'Body too large', 415: 'Body is not JSON',
    422: 'Validation failed', 429: 'Rate limited', 500: 'Internal error',
    503: 'Unavailable',
}


def ref(name):
    return {'$ref': '#/components/schemas/' + name}


def problem(status):
    return {'description': STATUS_TEXT.get(status, 'Error'),
            'content': {'application/problem+json': {'schema': ref('Problem')}}}


def json_response(description, schema, headers=None):
    r = {'description': description, 'content': {'application/json': {'schema': schema}}}
    if headers:
        r['headers'] = headers
    return r


def op(summary, responses, tag, errors=(), security=None, body=None, params=None,
       op_id=None):
    o = {'summary': summary, 'tags': [tag], 'operationId': op_id or summary,
         'responses': dict(responses)}
    for status in sorted(set(errors) | {500}):
        o['responses'][str(status)] = problem(status)
    if security is not None:
        o['security'] = security
    if body is not None:
        o['requestBody'] = {'required': True,
                            'content': {'application/json': {'schema': body}}}
    if params:
        o['parameters'] = params
    return o


paths = {
    '/livez': {'get': op('Liveness', {'200': json_response('The process runs', ref('Health'))},
                         'service', security=[], op_id='livez')},
    '/readyz': {'get': op('Readiness', {'200': json_response('Ready', ref('Health'))},
                          'service', errors=[503], security=[], op_id='readyz')},
    '/metrics': {'get': op('Prometheus metrics', {'200': {
        'description': 'Prometheus text format',
        'content': {'text/plain': {'schema': {'type': 'string'}}}}},
        'service', errors=[401], security=[{}, {'metricsToken': []}], op_id='metrics')},
    '/v1/version': {'get': op('Bill of materials', {'200': json_response('Build facts',
                                                                          ref('Version'))},
                              'service', security=[], op_id='version')},
    '/v1/openapi.json': {'get': op('This document', {'200': json_response(
        'The OpenAPI document', {'type': 'object'})}, 'service', security=[], op_id='openapi')},
}

doc = {
    'openapi': '3.1.0',
    'info': {
        'title': 'Quill API',
        'version': '1.0.0',
        'description': 'The HTTP contract of Quill, a team journaling backend.',
    },
    'servers': [{'url': '/'}],
    'tags': [{'name': t} for t in ['service']],
    'paths': paths,
    'components': {
        'schemas': schemas,
        'securitySchemes': {
            'bearer': {'type': 'http', 'scheme': 'bearer',
                       'description': 'A session token (qs_...), an API key (qk_...) or an '
                                      'OpenID Connect JWT.'},
            'cookie': {'type': 'apiKey', 'in': 'cookie', 'name': 'quill_session'},
            'metricsToken': {'type': 'http', 'scheme': 'bearer'},
            'adminToken': {'type': 'http', 'scheme': 'bearer'},
        },
    },
    'security': [{'bearer': []}, {'cookie': []}],
}

out = sys.argv[1] if len(sys.argv) > 1 else None
text = json.dumps(doc, separators=(',', ':'))
if out:
    with open(out, 'w') as f:
        f.write(text)
else:
    print(json.dumps(doc, indent=2))
