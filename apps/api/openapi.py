#!/usr/bin/env python3
"""The source of Quill's OpenAPI 3.1 document.  The build runs this script and embeds its
output in quill-api (GET /v1/openapi.json); the e2e suite validates the result and checks
that it lists exactly the routes the router serves.  Add every new route here.

Usage: openapi.py [OUT [VERSION]]: VERSION (the project's, from meson.build) is the
document's info.version, so the contract is versioned as the build that serves it."""
import json
import sys

out = sys.argv[1] if len(sys.argv) > 1 else None
version = sys.argv[2] if len(sys.argv) > 2 else '0.0.0'

PROBLEM_CODES = [
    'malformed_json', 'validation_failed', 'unauthenticated', 'invalid_credentials',
    'forbidden', 'not_found', 'method_not_allowed', 'conflict', 'email_taken',
    'idempotency_in_progress', 'precondition_failed', 'payload_too_large',
    'unsupported_media_type', 'idempotency_key_reused', 'rate_limited', 'quota_exceeded',
    'internal', 'unavailable', 'cursor_expired', 'invalid_token',
    # HTTP-level codes for requests that never reach a route
    'malformed_request', 'headers_too_large', 'not_implemented',
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

UUID = {'type': 'string', 'format': 'uuid'}
TIME = {'type': 'string', 'format': 'date-time'}
ROLE = {'type': 'string', 'enum': ['owner', 'admin', 'member', 'viewer']}


def obj(props, required=None, extra=False):
    o = {'type': 'object', 'properties': props,
         'required': list(props) if required is None else required}
    if not extra:
        o['additionalProperties'] = False
    return o


def nullable(schema):
    return {'anyOf': [schema, {'type': 'null'}]}


def list_of(schema):
    return obj({'items': {'type': 'array', 'items': schema},
                'nextCursor': {'type': ['string', 'null']}})


schemas.update({
    'User': obj({'userId': UUID, 'email': {'type': 'string'}, 'displayName': {'type': 'string'},
                 'mfaEnabled': {'type': 'boolean'}, 'emailVerified': {'type': 'boolean'},
                 'createdAt': TIME, 'updatedAt': TIME}),
    'Me': obj({'userId': UUID, 'email': {'type': 'string'}, 'displayName': {'type': 'string'},
               'mfaEnabled': {'type': 'boolean'}, 'emailVerified': {'type': 'boolean'},
               'createdAt': TIME, 'updatedAt': TIME,
               'teams': {'type': 'array', 'items': {'$ref': '#/components/schemas/TeamRole'}}}),
    'TeamRole': obj({'teamId': UUID, 'name': {'type': 'string'}, 'role': ROLE}),
    'Session': obj({'token': {'type': 'string'}, 'expiresAt': TIME,
                    'csrfToken': {'type': 'string'}}),
    'AuthResult': obj({'user': {'$ref': '#/components/schemas/User'},
                       'session': {'$ref': '#/components/schemas/Session'}}),
    'Team': obj({'teamId': UUID, 'name': {'type': 'string'}, 'createdAt': TIME,
                 'updatedAt': TIME}),
    'Member': obj({'userId': UUID, 'email': {'type': 'string'},
                   'displayName': {'type': 'string'}, 'role': ROLE, 'joinedAt': TIME}),
    'ApiKey': obj({'apiKeyId': UUID, 'name': {'type': 'string'},
                   'role': {'type': 'string', 'enum': ['member', 'viewer']},
                   'prefix': {'type': 'string'}, 'createdAt': TIME, 'expiresAt': nullable(TIME),
                   'lastUsedAt': nullable(TIME)}),
    'NewApiKey': obj({'apiKeyId': UUID, 'name': {'type': 'string'},
                      'role': {'type': 'string', 'enum': ['member', 'viewer']},
                      'prefix': {'type': 'string'}, 'key': {'type': 'string'},
                      'createdAt': TIME, 'expiresAt': nullable(TIME),
                      'lastUsedAt': nullable(TIME)}),
    'Export': obj({'exportId': UUID,
                   'status': {'type': 'string', 'enum': ['pending', 'ready', 'failed']},
                   'createdAt': TIME, 'readyAt': nullable(TIME), 'expiresAt': TIME,
                   'error': {'type': 'string', 'description': 'Why it failed'},
                   'data': {'type': 'object', 'description': 'The document, once ready'}},
                  required=['exportId', 'status', 'createdAt', 'readyAt', 'expiresAt']),
    'Erasure': obj({'userId': UUID, 'status': {'type': 'string', 'enum': ['erasing']}}),
    'AuditEntry': obj({'auditId': UUID, 'at': TIME, 'actor': {'type': 'string'},
                       'action': {'type': 'string'}, 'targetType': {'type': 'string'},
                       'targetId': {'type': 'string'}}),
})
schemas.update({
    'JournalEntry': obj({'journalEntryId': UUID, 'teamId': UUID, 'authorUserId': nullable(UUID),
                         'authorApiKeyId': nullable(UUID), 'promptId': nullable(UUID),
                         'content': {'type': 'string'}, 'createdAt': TIME, 'updatedAt': TIME,
                         'deletedAt': nullable(TIME)}),
    'Prompt': obj({'promptId': UUID, 'teamId': nullable(UUID), 'text': {'type': 'string'},
                   'category': {'type': 'string'}, 'createdAt': TIME, 'updatedAt': TIME,
                   'deletedAt': nullable(TIME)}),
})
for name in ['Team', 'Member', 'ApiKey', 'AuditEntry', 'TeamRole', 'JournalEntry', 'Prompt']:
    schemas[name + 'List'] = list_of(ref(name)) if False else list_of(
        {'$ref': '#/components/schemas/' + name})

STATUS_TEXT = {
    400: 'Malformed request or JSON', 401: 'Not authenticated', 403: 'Forbidden',
    404: 'Not found', 405: 'Method not allowed', 409: 'Conflict',
    410: 'Cursor older than the change log keeps', 412: 'Precondition failed',
    413: 'Body too large', 415: 'Body is not JSON',
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


def path_param(name):
    return {'name': name, 'in': 'path', 'required': True, 'schema': UUID}


PAGING = [
    {'name': 'limit', 'in': 'query', 'schema': {'type': 'integer', 'minimum': 1, 'maximum': 200,
                                                'default': 50},
     'description': 'The most items a page holds. A page carrying journal entries also ends '
                    'once their content reaches 1 MiB (after the entry that reaches it), so it '
                    'may hold fewer: follow nextCursor.'},
    {'name': 'cursor', 'in': 'query', 'schema': {'type': 'string'}},
]
AUTH_ERRORS = [401, 403, 429]
TEAM = [path_param('teamId')]
NO_CONTENT = {'204': {'description': 'Done'}}
RATE_HEADERS = {
    'RateLimit-Limit': {'schema': {'type': 'integer'}},
    'RateLimit-Remaining': {'schema': {'type': 'integer'}},
    'RateLimit-Reset': {'schema': {'type': 'integer'}},
}


def ok(status, schema_name, description='OK', headers=None):
    return {str(status): json_response(description, ref(schema_name), headers)}


def idem_header():
    return {'name': 'Idempotency-Key', 'in': 'header', 'required': False,
            'schema': {'type': 'string', 'minLength': 1, 'maxLength': 255}}


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
    '/docs': {'get': op('This document for people', {
        '200': {'description': 'An HTML page that renders this document (Swagger UI, served '
                               'from this server)',
                'content': {'text/html': {'schema': {'type': 'string'}}}},
        '304': {'description': 'Not modified (If-None-Match)'}},
        'service', security=[], op_id='docsPage')},
    '/docs/': {'get': op('The /docs page, addressed with a slash', {
        '308': {'description': 'Permanent redirect to /docs (Location: /docs)',
                'headers': {'Location': {'schema': {'type': 'string'}}}}},
        'service', security=[], op_id='docsSlash')},
    '/docs/{asset}': {'get': op('A file of the /docs page', {
        '200': {'description': 'The renderer\'s script or stylesheet, the page\'s own, or '
                               'their licences; gzipped when the client accepts it',
                'content': {t: {'schema': {'type': 'string'}} for t in
                            ['text/javascript', 'text/css', 'text/plain']}},
        '304': {'description': 'Not modified (If-None-Match)'}},
        'service', errors=[404], security=[], op_id='docsAsset',
        params=[{'name': 'asset', 'in': 'path', 'required': True,
                 'schema': {'type': 'string'}}])},
}

paths.update({
    '/v1/auth/signup': {'post': op('Sign up', ok(201, 'AuthResult', 'Created'), 'accounts',
        errors=[400, 409, 413, 415, 422, 429], security=[], op_id='signup',
        params=[idem_header()],
        body=obj({'email': {'type': 'string'}, 'password': {'type': 'string', 'minLength': 12,
                                                             'maxLength': 128},
                  'displayName': {'type': 'string', 'minLength': 1, 'maxLength': 100}}))},
    '/v1/auth/login': {'post': op('Log in', {'200': json_response(
        'A session, or with MFA on the challenge of POST /v1/auth/mfa',
        {'oneOf': [ref('AuthResult'), ref('MfaChallenge')]})}, 'accounts',
        errors=[400, 401, 413, 415, 422, 429], security=[], op_id='login',
        params=[idem_header()],
        body=obj({'email': {'type': 'string'}, 'password': {'type': 'string'}}))},
    '/v1/auth/logout': {'post': op('Log out', NO_CONTENT, 'accounts', errors=AUTH_ERRORS,
                                   op_id='logout', params=[idem_header()])},
    '/v1/me': {
        'get': op('The caller', ok(200, 'Me'), 'accounts', errors=AUTH_ERRORS, op_id='getMe'),
        'patch': op('Update the caller', ok(200, 'User'), 'accounts',
                    errors=AUTH_ERRORS + [400, 415, 422], op_id='updateMe',
                    body=obj({'displayName': {'type': 'string', 'minLength': 1,
                                              'maxLength': 100}})),
        'delete': op('Erase your account', ok(202, 'Erasure', 'Accepted: sessions end now; '
                                              'a job erases the rest'), 'accounts',
                     errors=AUTH_ERRORS + [400, 409, 415, 422], op_id='eraseMe',
                     body=obj({'password': {'type': 'string'},
                               'code': {'type': ['string', 'null'],
                                        'description': 'TOTP or recovery code when MFA is on'}},
                              required=[])),
    },
    '/v1/me/exports': {'post': op(
        'Ask for an export of all your data (built by a job)',
        {'202': json_response('Accepted: the pending export (an existing pending one is '
                              'returned as it is)', ref('Export'),
                              {'Location': {'schema': {'type': 'string'}}})},
        'accounts', errors=AUTH_ERRORS, op_id='createExport', params=[idem_header()])},
    '/v1/me/exports/{exportId}': {'get': op(
        'An export: its status, and the document once it is ready', ok(200, 'Export'),
        'accounts', errors=AUTH_ERRORS + [404, 422], op_id='getExport',
        params=[path_param('exportId')])},
    '/v1/me/password': {'post': op('Change password', NO_CONTENT, 'accounts',
        errors=AUTH_ERRORS + [400, 415, 422], op_id='changePassword', params=[idem_header()],
        body=obj({'currentPassword': {'type': 'string'},
                  'newPassword': {'type': 'string', 'minLength': 12, 'maxLength': 128}}))},
    '/v1/teams': {
        'post': op('Create a team', ok(201, 'Team', 'Created'), 'teams',
                   errors=AUTH_ERRORS + [400, 415, 422], op_id='createTeam',
                   params=[idem_header()],
                   body=obj({'name': {'type': 'string', 'minLength': 1, 'maxLength': 100}})),
        'get': op("The caller's teams", ok(200, 'TeamRoleList'), 'teams',
                  errors=AUTH_ERRORS + [422], op_id='listTeams', params=PAGING),
    },
    '/v1/teams/{teamId}': {
        'get': op('A team', ok(200, 'Team'), 'teams', errors=AUTH_ERRORS + [404, 422],
                  op_id='getTeam', params=TEAM),
        'patch': op('Rename a team', ok(200, 'Team'), 'teams',
                    errors=AUTH_ERRORS + [400, 404, 415, 422], op_id='updateTeam', params=TEAM,
                    body=obj({'name': {'type': 'string', 'minLength': 1, 'maxLength': 100}})),
        'delete': op('Delete a team', NO_CONTENT, 'teams', errors=AUTH_ERRORS + [404, 422],
                     op_id='deleteTeam', params=TEAM),
    },
    '/v1/teams/{teamId}/members': {
        'get': op('Members', ok(200, 'MemberList'), 'teams', errors=AUTH_ERRORS + [404, 422],
                  op_id='listMembers', params=TEAM + PAGING),
        'post': op('Add a member', ok(201, 'Member', 'Created'), 'teams',
                   errors=AUTH_ERRORS + [400, 404, 409, 415, 422], op_id='addMember',
                   params=TEAM + [idem_header()],
                   body=obj({'email': {'type': 'string'}, 'role': ROLE})),
    },
    '/v1/teams/{teamId}/members/{userId}': {
        'patch': op('Change a role', ok(200, 'Member'), 'teams',
                    errors=AUTH_ERRORS + [400, 404, 409, 415, 422], op_id='updateMember',
                    params=TEAM + [path_param('userId')], body=obj({'role': ROLE})),
        'delete': op('Remove a member', NO_CONTENT, 'teams',
                     errors=AUTH_ERRORS + [404, 409, 422], op_id='removeMember',
                     params=TEAM + [path_param('userId')]),
    },
    '/v1/teams/{teamId}/api-keys': {
        'post': op('Create an API key', ok(201, 'NewApiKey', 'Created'), 'api-keys',
                   errors=AUTH_ERRORS + [400, 404, 415, 422], op_id='createApiKey',
                   params=TEAM + [idem_header()],
                   body=obj({'name': {'type': 'string', 'minLength': 1, 'maxLength': 100},
                             'role': {'type': 'string', 'enum': ['member', 'viewer']},
                             'expiresAt': nullable(TIME)}, required=['name', 'role'])),
        'get': op('API keys', ok(200, 'ApiKeyList'), 'api-keys',
                  errors=AUTH_ERRORS + [404, 422], op_id='listApiKeys', params=TEAM + PAGING),
    },
    '/v1/teams/{teamId}/api-keys/{apiKeyId}': {
        'delete': op('Revoke an API key', NO_CONTENT, 'api-keys',
                     errors=AUTH_ERRORS + [404, 422], op_id='deleteApiKey',
                     params=TEAM + [path_param('apiKeyId')]),
    },
    '/v1/teams/{teamId}/audit-log': {
        'get': op('Audit log', ok(200, 'AuditEntryList'), 'audit',
                  errors=AUTH_ERRORS + [404, 422], op_id='listAuditLog', params=TEAM + PAGING),
    },
})

ENTRY = [path_param('journalEntryId')]
ETAG = {'ETag': {'schema': {'type': 'string'}}}
CONTENT = {'type': 'string', 'minLength': 1, 'maxLength': 100000}


def header_param(name, description):
    return {'name': name, 'in': 'header', 'required': False, 'schema': {'type': 'string'},
            'description': description}


paths.update({
    '/v1/teams/{teamId}/journal-entries': {
        'post': op('Write an entry', {'201': json_response('Created', ref('JournalEntry'), {
            **ETAG, 'Location': {'schema': {'type': 'string'}}})}, 'journal',
            errors=AUTH_ERRORS + [400, 404, 409, 413, 415, 422], op_id='createEntry',
            params=TEAM + [idem_header()],
            body=obj({'content': CONTENT, 'promptId': nullable(UUID)}, required=['content'])),
        'get': op('Entries, newest first', ok(200, 'JournalEntryList'), 'journal',
                  errors=AUTH_ERRORS + [404, 422], op_id='listEntries',
                  params=TEAM + PAGING + [
                      {'name': 'authorUserId', 'in': 'query', 'schema': UUID},
                      {'name': 'promptId', 'in': 'query', 'schema': UUID}]),
    },
    '/v1/teams/{teamId}/journal-entries/{journalEntryId}': {
        'get': op('An entry', {'200': json_response('The entry', ref('JournalEntry'), ETAG),
                               '304': {'description': 'Not modified', 'headers': ETAG}},
                  'journal', errors=AUTH_ERRORS + [404, 422], op_id='getEntry',
                  params=TEAM + ENTRY + [header_param('If-None-Match', 'ETag of a cached copy')]),
        'patch': op('Edit an entry', {'200': json_response('The entry', ref('JournalEntry'),
                                                           ETAG)}, 'journal',
                    errors=AUTH_ERRORS + [400, 404, 412, 415, 422], op_id='updateEntry',
                    params=TEAM + ENTRY + [header_param('If-Match', 'ETag the edit is based on')],
                    body=obj({'content': CONTENT, 'promptId': nullable(UUID)}, required=[])),
        'delete': op('Delete an entry (soft)', NO_CONTENT, 'journal',
                     errors=AUTH_ERRORS + [404, 412, 422], op_id='deleteEntry',
                     params=TEAM + ENTRY + [header_param('If-Match', 'ETag the delete is based on')]),
    },
    '/v1/teams/{teamId}/prompts': {
        'get': op('Global and team prompts', ok(200, 'PromptList'), 'prompts',
                  errors=AUTH_ERRORS + [404, 422], op_id='listPrompts',
                  params=TEAM + PAGING + [{'name': 'category', 'in': 'query',
                                           'schema': {'type': 'string'}}]),
        'post': op('Create a team prompt', ok(201, 'Prompt', 'Created'), 'prompts',
                   errors=AUTH_ERRORS + [400, 404, 415, 422], op_id='createPrompt',
                   params=TEAM + [idem_header()],
                   body=obj({'text': {'type': 'string', 'minLength': 1, 'maxLength': 1000},
                             'category': {'type': 'string', 'minLength': 1, 'maxLength': 50}})),
    },
    '/v1/teams/{teamId}/prompts/{promptId}': {
        'delete': op('Delete a team prompt (soft)', NO_CONTENT, 'prompts',
                     errors=AUTH_ERRORS + [404, 422], op_id='deletePrompt',
                     params=TEAM + [path_param('promptId')]),
    },
})

schemas.update({
    'SyncChange': obj({
        'type': {'type': 'string', 'enum': ['journalEntry', 'prompt', 'member']},
        'operation': {'type': 'string', 'enum': ['upsert', 'delete']},
        'id': UUID,
        'data': {'oneOf': [ref('JournalEntry'), ref('Prompt'), ref('Member'), {'type': 'null'}],
                 'description': 'The thing as it is now; null for a delete.'}}),
    'SyncPage': obj({'changes': {'type': 'array', 'items': ref('SyncChange')},
                     'nextCursor': {'type': 'string'}, 'hasMore': {'type': 'boolean'}}),
    'Activity': obj({'teamId': UUID, 'entriesCreated': {'type': 'integer'},
                     'entriesUpdated': {'type': 'integer'}, 'entriesDeleted': {'type': 'integer'},
                     'membersAdded': {'type': 'integer'}, 'membersRemoved': {'type': 'integer'},
                     'lastActivityAt': nullable(TIME)}),
})
paths.update({
    '/v1/teams/{teamId}/sync': {
        'get': op('Delta sync: a snapshot, then the changes since a cursor', ok(200, 'SyncPage'),
                  'sync', errors=AUTH_ERRORS + [404, 410, 422], op_id='sync',
                  params=TEAM + [
                      {'name': 'since', 'in': 'query', 'schema': {'type': 'string'},
                       'description': 'nextCursor of the last page; absent: a new snapshot'},
                      PAGING[0]])},
    '/v1/teams/{teamId}/sync/stream': {
        'get': op('The live change stream (Server-Sent Events)', {'200': {
            'description': 'Events "change" with id: <cursor> and data: <SyncChange>; a comment '
                           'when quiet',
            'content': {'text/event-stream': {'schema': {'type': 'string'}}}}},
            'sync', errors=AUTH_ERRORS + [404, 410, 422, 503], op_id='syncStream',
            params=TEAM + [header_param('Last-Event-ID', 'Resume after this cursor'),
                           {'name': 'since', 'in': 'query', 'schema': {'type': 'string'},
                            'description': 'Start after this delta cursor (Last-Event-ID wins)'}])},
    '/v1/teams/{teamId}/activity': {
        'get': op("The team's activity counts", ok(200, 'Activity'), 'sync',
                  errors=AUTH_ERRORS + [404, 422], op_id='teamActivity', params=TEAM)},
})

WEBHOOK_EVENT = {'type': 'string', 'enum': [
    'journal_entry.created', 'journal_entry.updated', 'journal_entry.deleted', 'member.added',
    'member.removed', 'subscription.usage_alert', 'export.ready']}
WEBHOOK_FIELDS = {'webhookId': UUID, 'url': {'type': 'string'},
                  'events': {'type': 'array', 'items': WEBHOOK_EVENT},
                  'description': {'type': 'string'}, 'createdAt': TIME,
                  'disabledAt': nullable(TIME)}
ATTEMPT_FIELDS = {'deliveryId': UUID, 'event': WEBHOOK_EVENT, 'attempt': {'type': 'integer'},
                  'status': {'type': 'string', 'enum': ['succeeded', 'failed']},
                  'responseStatus': {'type': ['integer', 'null']},
                  'error': {'type': ['string', 'null']}, 'durationMs': {'type': 'integer'},
                  'createdAt': TIME}
schemas.update({
    'Webhook': obj(WEBHOOK_FIELDS),
    'NewWebhook': obj({**WEBHOOK_FIELDS, 'secret': {'type': 'string', 'pattern': '^whsec_'}}),
    'DeliveryAttempt': obj(ATTEMPT_FIELDS),
    'FailedDelivery': obj({'teamId': UUID, 'webhookId': UUID, **ATTEMPT_FIELDS}),
    'Redelivery': obj({'deliveryId': UUID, 'status': {'type': 'string', 'enum': ['pending']}}),
})
for name in ['Webhook', 'DeliveryAttempt', 'FailedDelivery']:
    schemas[name + 'List'] = list_of(ref(name))
HOOK = [path_param('webhookId')]
ADMIN_SEC = [{'adminToken': []}]
paths.update({
    '/v1/teams/{teamId}/webhooks': {
        'post': op('Register a webhook endpoint', ok(201, 'NewWebhook', 'Created'), 'webhooks',
                   errors=AUTH_ERRORS + [400, 404, 409, 415, 422], op_id='createWebhook',
                   params=TEAM + [idem_header()],
                   body=obj({'url': {'type': 'string', 'maxLength': 2000},
                             'events': {'type': 'array', 'items': WEBHOOK_EVENT, 'minItems': 1},
                             'description': {'type': ['string', 'null'], 'maxLength': 500}},
                            required=['url', 'events'])),
        'get': op("The team's webhook endpoints, newest first", ok(200, 'WebhookList'),
                  'webhooks', errors=AUTH_ERRORS + [404, 422], op_id='listWebhooks',
                  params=TEAM + PAGING)},
    '/v1/teams/{teamId}/webhooks/{webhookId}': {
        'delete': op('Delete a webhook endpoint', NO_CONTENT, 'webhooks',
                     errors=AUTH_ERRORS + [404, 422], op_id='deleteWebhook', params=TEAM + HOOK)},
    '/v1/teams/{teamId}/webhooks/{webhookId}/deliveries': {
        'get': op('Delivery attempts, newest first', ok(200, 'DeliveryAttemptList'), 'webhooks',
                  errors=AUTH_ERRORS + [404, 422], op_id='listDeliveries',
                  params=TEAM + HOOK + PAGING)},
    '/v1/teams/{teamId}/webhooks/{webhookId}/deliveries/{deliveryId}/redeliver': {
        'post': op('Send a delivery again', ok(202, 'Redelivery', 'Accepted'), 'webhooks',
                   errors=AUTH_ERRORS + [404, 422], op_id='redeliver',
                   params=TEAM + HOOK + [path_param('deliveryId'), idem_header()])},
    '/v1/admin/webhooks/failures': {
        'get': op('The newest failed delivery attempts of every team', ok(200, 'FailedDeliveryList'),
                  'operators', errors=[401, 403, 422], security=ADMIN_SEC,
                  op_id='webhookFailures', params=[PAGING[0]])},
})

# Account security: the caller's sessions, TOTP, and the second step of a login.
CODE = {'type': 'string', 'description': 'A 6-digit TOTP code, or a recovery code'}
schemas.update({
    'SessionInfo': obj({'sessionId': UUID, 'createdAt': TIME, 'lastUsedAt': TIME,
                        'expiresAt': TIME, 'userAgent': {'type': ['string', 'null']},
                        'ip': {'type': ['string', 'null']}, 'current': {'type': 'boolean'}}),
    'MfaChallenge': obj({'mfaRequired': {'const': True}, 'mfaToken': {'type': 'string'},
                         'expiresAt': TIME}),
    'TotpEnrolment': obj({'secret': {'type': 'string', 'pattern': '^[A-Z2-7]+$'},
                          'otpauthUri': {'type': 'string', 'pattern': '^otpauth://totp/'}}),
    'RecoveryCodes': obj({'recoveryCodes': {'type': 'array', 'items': {'type': 'string'},
                                            'minItems': 10, 'maxItems': 10}}),
})
schemas['SessionInfoList'] = list_of(ref('SessionInfo'))
paths.update({
    '/v1/me/sessions': {
        'get': op("The caller's live sessions, newest first", ok(200, 'SessionInfoList'),
                  'accounts', errors=AUTH_ERRORS + [422], op_id='listSessions', params=PAGING),
        'delete': op('End every session but the current one', NO_CONTENT, 'accounts',
                     errors=AUTH_ERRORS, op_id='revokeOtherSessions')},
    '/v1/me/sessions/{sessionId}': {
        'delete': op('End one of your sessions', NO_CONTENT, 'accounts',
                     errors=AUTH_ERRORS + [404, 422], op_id='revokeSession',
                     params=[path_param('sessionId')])},
    '/v1/me/mfa/totp': {
        'post': op('Start a TOTP enrolment (not in force until confirmed)',
                   ok(201, 'TotpEnrolment', 'Created'), 'accounts',
                   errors=AUTH_ERRORS + [400, 409, 415, 422], op_id='enrolTotp',
                   params=[idem_header()], body=obj({'password': {'type': 'string'}})),
        'delete': op('Turn MFA off', NO_CONTENT, 'accounts',
                     errors=AUTH_ERRORS + [400, 409, 415, 422], op_id='disableTotp',
                     body=obj({'password': {'type': 'string'}, 'code': CODE},
                              required=['password']))},
    '/v1/me/mfa/totp/confirm': {
        'post': op('Confirm the enrolment with a first code: MFA is on', ok(200, 'RecoveryCodes'),
                   'accounts', errors=AUTH_ERRORS + [400, 409, 415, 422], op_id='confirmTotp',
                   params=[idem_header()], body=obj({'code': CODE}))},
    '/v1/auth/mfa': {
        'post': op("A login's second step: the mfaToken and a code for the session",
                   ok(200, 'AuthResult'), 'accounts', errors=[400, 401, 413, 415, 422, 429],
                   security=[], op_id='loginMfa', params=[idem_header()],
                   body=obj({'mfaToken': {'type': 'string'}, 'code': CODE}))},
})

JOB_STATE = {'type': 'string', 'enum': ['available', 'running', 'failed', 'succeeded',
                                        'discarded', 'cancelled']}
schemas.update({
    'Job': obj({'jobId': {'type': 'string', 'pattern': '^[0-9]+$'}, 'queue': {'type': 'string'},
                'kind': {'type': 'string'}, 'state': JOB_STATE, 'priority': {'type': 'integer'},
                'attempts': {'type': 'integer'}, 'maxAttempts': {'type': 'integer'},
                'uniqueKey': {'type': ['string', 'null']}, 'payload': {},
                'errors': {'type': 'array', 'items': {'type': 'object'}},
                'progress': {}, 'lockedBy': {'type': ['string', 'null']}, 'runAt': TIME,
                'createdAt': TIME, 'lockedAt': nullable(TIME), 'finishedAt': nullable(TIME)}),
    'QueueStats': obj({
        'queues': {'type': 'array', 'items': obj({
            'queue': {'type': 'string'}, 'available': {'type': 'integer'},
            'running': {'type': 'integer'}, 'failed': {'type': 'integer'},
            'succeeded': {'type': 'integer'}, 'discarded': {'type': 'integer'},
            'cancelled': {'type': 'integer'}, 'oldestAvailableAgeSeconds': {'type': 'number'}})},
        'totals': {'type': 'object', 'additionalProperties': {'type': 'integer'}},
        'oldestAvailableAgeSeconds': {'type': 'number'}}),
    'JobChange': obj({'jobId': {'type': 'string'}, 'state': JOB_STATE}),
})
schemas['JobList'] = list_of({'$ref': '#/components/schemas/Job'})
ADMIN = [{'adminToken': []}]
JOB = [{'name': 'jobId', 'in': 'path', 'required': True,
        'schema': {'type': 'string', 'pattern': '^[0-9]+$'}}]
paths.update({
    '/v1/teams/{teamId}/prompts/daily': {
        'get': op("Today's prompt", ok(200, 'Prompt'), 'prompts', errors=AUTH_ERRORS + [404, 422],
                  op_id='getDailyPrompt', params=TEAM)},
    '/v1/admin/jobs': {
        'get': op('Jobs with attempts, errors and progress', ok(200, 'JobList'), 'operators',
                  errors=[401, 403, 422], security=ADMIN, op_id='listJobs',
                  params=PAGING + [{'name': n, 'in': 'query', 'schema': {'type': 'string'}}
                                   for n in ('state', 'queue', 'kind')])},
    '/v1/admin/jobs/stats': {
        'get': op('Counts by queue and state', ok(200, 'QueueStats'), 'operators',
                  errors=[401, 403], security=ADMIN, op_id='jobStats')},
    '/v1/admin/jobs/{jobId}/retry': {
        'post': op('Retry a failed or discarded job', ok(202, 'JobChange', 'Accepted'),
                   'operators', errors=[401, 403, 404, 409, 422], security=ADMIN,
                   op_id='retryJob', params=JOB + [idem_header()])},
    '/v1/admin/jobs/{jobId}/cancel': {
        'post': op('Cancel an unfinished job', ok(202, 'JobChange', 'Accepted'), 'operators',
                   errors=[401, 403, 404, 409, 422], security=ADMIN, op_id='cancelJob',
                   params=JOB + [idem_header()])},
    '/admin': {
        'get': op('The operator dashboard', {'200': {
            'description': 'A self-contained HTML page',
            'content': {'text/html': {'schema': {'type': 'string'}}}}}, 'operators',
            errors=[401], security=ADMIN + [{'adminQueryToken': []}], op_id='dashboard',
            params=[{'name': 'token', 'in': 'query', 'required': False,
                     'schema': {'type': 'string'}}])},
})

# Plans and metering: every request made with an API key uses one unit of its team's monthly
# quota (429 quota_exceeded once it is used up, until the period ends).
schemas['Subscription'] = obj({
    'plan': {'type': 'string'},
    'monthlyQuota': {'type': 'integer', 'minimum': 0},
    'used': {'type': 'integer', 'minimum': 0,
             'description': 'API-key requests recorded in the period (trails by ~200 ms)'},
    'periodStart': TIME, 'periodEnd': TIME})
paths.update({
    '/v1/teams/{teamId}/subscription': {
        'get': op("The team's plan, quota and usage this month", ok(200, 'Subscription'),
                  'teams', errors=AUTH_ERRORS + [404, 422], op_id='getSubscription',
                  params=TEAM)},
    '/v1/admin/teams/{teamId}/subscription': {
        'put': op("Set a team's plan and monthly quota", ok(200, 'Subscription'), 'operators',
                  errors=[400, 401, 403, 404, 415, 422], security=ADMIN,
                  op_id='setSubscription', params=TEAM,
                  body=obj({'plan': {'type': 'string', 'minLength': 1, 'maxLength': 50,
                                     'pattern': '^[A-Za-z0-9._-]+$'},
                            'monthlyQuota': {'type': 'integer', 'minimum': 0,
                                             'maximum': 1000000000000000}}))},
})

# Mailed links (password reset, email verification) and the operator's outbox.
PASSWORD = {'type': 'string', 'minLength': 12, 'maxLength': 128}
ACCEPTED = {'202': {'description': 'Accepted (the same answer whether or not the email has an '
                                   'account; a mail follows when it has one)'}}
schemas.update({
    'Mail': obj({'mailId': UUID, 'kind': {'type': 'string'}, 'userId': nullable(UUID),
                 'to': {'type': 'string'}, 'subject': {'type': 'string'},
                 'body': {'type': ['string', 'null'],
                          'description': 'The text while the outbox keeps it (null once sent)'},
                 'state': {'type': 'string', 'enum': ['pending', 'sent', 'held', 'failed']},
                 'attempts': {'type': 'integer'}, 'lastError': {'type': ['string', 'null']},
                 'createdAt': TIME, 'updatedAt': TIME, 'sentAt': nullable(TIME)}),
})
schemas['MailList'] = list_of(ref('Mail'))
paths.update({
    '/v1/auth/password-reset': {'post': op(
        'Ask for a password reset link', ACCEPTED, 'accounts',
        errors=[400, 413, 415, 422, 429], security=[], op_id='requestPasswordReset',
        params=[idem_header()], body=obj({'email': {'type': 'string'}}))},
    '/v1/auth/password-reset/confirm': {'post': op(
        'Set a new password with a reset token', NO_CONTENT, 'accounts',
        errors=[400, 413, 415, 422, 429], security=[], op_id='confirmPasswordReset',
        params=[idem_header()],
        body=obj({'token': {'type': 'string'}, 'newPassword': PASSWORD}))},
    '/v1/me/email-verification': {'post': op(
        'Mail the caller a verification link', {'202': {'description': 'Accepted: a mail follows'}},
        'accounts', errors=AUTH_ERRORS + [409, 422], op_id='requestEmailVerification',
        params=[idem_header()])},
    '/v1/auth/verify-email': {'post': op(
        'Verify an email address with a mailed token', NO_CONTENT, 'accounts',
        errors=[400, 413, 415, 422], security=[], op_id='verifyEmail',
        params=[idem_header()], body=obj({'token': {'type': 'string'}}))},
    '/v1/admin/mail': {'get': op(
        'The outbox, newest first', ok(200, 'MailList'), 'operators',
        errors=[401, 403, 422], security=ADMIN, op_id='listMail', params=PAGING)},
})

# Feature flags: the operator manages them, a team's members read their values.
FLAG_KEY = {'type': 'string', 'pattern': '^[a-z0-9][a-z0-9._-]{0,62}$'}
schemas.update({
    'Flag': obj({'flagKey': FLAG_KEY, 'description': {'type': 'string'},
                 'enabled': {'type': 'boolean'},
                 'rolloutPercent': {'type': 'integer', 'minimum': 0, 'maximum': 100},
                 'createdAt': TIME, 'updatedAt': TIME}),
    'FlagTeam': obj({'teamId': UUID, 'enabled': {'type': 'boolean'}, 'createdAt': TIME,
                     'updatedAt': TIME}),
    'TeamFlags': obj({'teamId': UUID, 'flags': {'type': 'object',
                                                'additionalProperties': {'type': 'boolean'}}}),
})
schemas['FlagList'] = list_of(ref('Flag'))
schemas['FlagTeamList'] = list_of(ref('FlagTeam'))
FLAG = [{'name': 'flagKey', 'in': 'path', 'required': True, 'schema': FLAG_KEY}]
FLAG_BODY = obj({'enabled': {'type': 'boolean'},
                 'rolloutPercent': {'type': 'integer', 'minimum': 0, 'maximum': 100},
                 'description': nullable({'type': 'string', 'maxLength': 500})},
                required=['enabled'])
CHANGED = {'200': json_response('Replaced', ref('Flag')),
           '201': json_response('Created', ref('Flag'))}
paths.update({
    '/v1/teams/{teamId}/flags': {
        'get': op("The values of every feature flag for the team", ok(200, 'TeamFlags'), 'teams',
                  errors=AUTH_ERRORS + [404, 422], op_id='getTeamFlags', params=TEAM)},
    '/v1/admin/flags': {
        'get': op('Feature flags, by key', ok(200, 'FlagList'), 'operators',
                  errors=[401, 403, 422], security=ADMIN, op_id='listFlags', params=PAGING)},
    '/v1/admin/flags/{flagKey}': {
        'get': op('A feature flag', ok(200, 'Flag'), 'operators', errors=[401, 403, 404, 422],
                  security=ADMIN, op_id='getFlag', params=FLAG),
        'put': op('Create or replace a feature flag', CHANGED, 'operators',
                  errors=[400, 401, 403, 413, 415, 422], security=ADMIN, op_id='putFlag',
                  params=FLAG, body=FLAG_BODY),
        'delete': op('Delete a feature flag and its team overrides', NO_CONTENT, 'operators',
                     errors=[401, 403, 404, 422], security=ADMIN, op_id='deleteFlag',
                     params=FLAG)},
    '/v1/admin/flags/{flagKey}/teams': {
        'get': op("A flag's team overrides, by team id", ok(200, 'FlagTeamList'), 'operators',
                  errors=[401, 403, 404, 422], security=ADMIN, op_id='listFlagTeams',
                  params=FLAG + PAGING)},
    '/v1/admin/flags/{flagKey}/teams/{teamId}': {
        'put': op("Set a team's override of a flag",
                  {'200': json_response('Replaced', ref('FlagTeam')),
                   '201': json_response('Created', ref('FlagTeam'))}, 'operators',
                  errors=[400, 401, 403, 404, 413, 415, 422], security=ADMIN,
                  op_id='putFlagTeam', params=FLAG + TEAM,
                  body=obj({'enabled': {'type': 'boolean'}})),
        'delete': op("Remove a team's override of a flag", NO_CONTENT, 'operators',
                     errors=[401, 403, 404, 422], security=ADMIN, op_id='deleteFlagTeam',
                     params=FLAG + TEAM)},
})

doc = {
    'openapi': '3.1.0',
    'info': {
        'title': 'Quill API',
        'version': version,
        'description': 'The HTTP contract of Quill, a team journaling backend.',
    },
    'servers': [{'url': '/'}],
    'tags': [{'name': t} for t in ['service', 'accounts', 'teams', 'api-keys', 'audit', 'journal', 'prompts', 'sync', 'webhooks', 'operators']],
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
            'adminQueryToken': {'type': 'apiKey', 'in': 'query', 'name': 'token'},
        },
    },
    'security': [{'bearer': []}, {'cookie': []}],
}

text = json.dumps(doc, separators=(',', ':'))
if out:
    with open(out, 'w') as f:
        f.write(text)
else:
    print(json.dumps(doc, indent=2))
