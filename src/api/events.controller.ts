import { Get, Param, Query } from '@nestjs/common';
import { ApiExtraModels, ApiOperation, ApiResponse } from '@nestjs/swagger';
import { EventsService, type ChangeRecord, type EventsPage } from '../services/events.service.js';
import { ApiKeyController, RequireScope } from './auth.guard.js';
import { ApiBatchProblems, RATE_LIMITED, UNAUTHENTICATED, forbidden } from './batch-problems.js';
import {
  ChangePathDto,
  ChangeRecordDto,
  EVENT_DTOS,
  EventsPageDto,
  EventsQueryDto,
} from './dto/events.dto.js';
import { responseHeaders } from './openapi-headers.js';

const CHANGE_ID = '01935a8e-7c4b-7d2a-9f00-1a2b3c4d5e6f';

@ApiKeyController('v1/changes', 'changes')
export class ChangesController {
  constructor(private readonly events: EventsService) {}

  @Get(':changeId')
  @RequireScope('status:read')
  @ApiOperation({
    operationId: 'getChange',
    summary: 'One change attempt',
    description:
      'Any change the gateway recorded (single or from a batch): its outcome (PENDING while it runs), error code ' +
      'and the provider value sent. A 202 change answer links here in Location. Scope status:read.',
  })
  @ApiResponse({ status: 200, type: ChangeRecordDto, headers: responseHeaders() })
  @ApiBatchProblems(
    `/v1/changes/${CHANGE_ID}`,
    {
      code: 'VALIDATION_FAILED',
      summary: 'a change id that is not one',
      detail: 'changeId: changeId is not a change id',
      options: { errors: [{ field: 'changeId', message: 'changeId is not a change id' }] },
    },
    UNAUTHENTICATED,
    forbidden('status:read', 'for GET /v1/changes/:changeId'),
    { code: 'NOT_FOUND', summary: 'no such change', detail: `No change ${CHANGE_ID}` },
    RATE_LIMITED,
  )
  get(@Param() path: ChangePathDto): Promise<ChangeRecord> {
    return this.events.change(path.changeId);
  }
}

@ApiExtraModels(...EVENT_DTOS)
@ApiKeyController('v1/events', 'events')
export class EventsController {
  constructor(private readonly events: EventsService) {}

  @Get()
  @RequireScope('events:read')
  @ApiOperation({
    operationId: 'listEvents',
    summary: 'The event feed (CloudEvents 1.0)',
    description:
      'Every change attempt that ended, and every drift found, oldest first in commit order. Poll with ' +
      'after=<nextCursor of the last page> (never null) to see each event once, in order — across replicas ' +
      'too. Events older than EVENT_RETENTION_DAYS are removed. Scope events:read (status:read does not grant it).',
  })
  @ApiResponse({ status: 200, type: EventsPageDto, headers: responseHeaders() })
  @ApiBatchProblems(
    '/v1/events',
    {
      code: 'VALIDATION_FAILED',
      summary: 'a cursor, limit or type that is not valid',
      detail: 'after: after is not a cursor this API returned',
      options: { errors: [{ field: 'after', message: 'after is not a cursor this API returned' }] },
    },
    UNAUTHENTICATED,
    forbidden('events:read', 'for GET /v1/events'),
    RATE_LIMITED,
  )
  list(@Query() query: EventsQueryDto): Promise<EventsPage> {
    return this.events.feed(query);
  }
}
