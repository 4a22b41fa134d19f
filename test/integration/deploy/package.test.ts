import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadServerlessProject, stateMachineDefinition } from '../../../local-cloud/index.ts';
import { forEachState } from '../../../local-cloud/services/stepfunctions/asl-states.ts';

/**
 * Packages the service the way `sls deploy` would (no AWS needed) and checks the CloudFormation
 * template: what reaches AWS, not what serverless.yml seems to say. docs/security.md is the
 * specification of every role; this test holds the template to it.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SLS = join(ROOT, 'node_modules/osls/bin/serverless.js');
const STAGE = 'dev';

type Json = Record<string, any>;
interface Resource {
  Type: string;
  Properties: Json;
}
interface Statement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource?: unknown;
  Principal?: unknown;
}

let artifactsDir: string;
let template: { Resources: Record<string, Resource> };

beforeAll(async () => {
  artifactsDir = await mkdtemp(join(tmpdir(), 'sls-package-'));
  const started = performance.now();
  // Run osls on this very Node (24, via npm): `--package` keeps the artifacts out of the tree.
  await promisify(execFile)(process.execPath, [SLS, 'package', '--stage', STAGE, '--package', artifactsDir], {
    cwd: ROOT,
    env: { ...process.env, SLS_TELEMETRY_DISABLED: '1' },
    maxBuffer: 16 * 1024 * 1024,
  });
  // Reported, never asserted: it depends on the machine (the hook's timeout guards against a hang).
  console.info(`sls package took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  template = JSON.parse(await readFile(join(artifactsDir, 'cloudformation-template-update-stack.json'), 'utf8'));
}, 240_000);

afterAll(async () => {
  if (artifactsDir) await rm(artifactsDir, { recursive: true, force: true });
});

const resources = (type: string) => Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
const list = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
const capitalize = (name: string) => name[0]!.toUpperCase() + name.slice(1);

/** The two tables of docs/security.md, between their HTML-comment markers. */
async function securityTable(marker: string): Promise<string[][]> {
  const doc = await readFile(join(ROOT, 'docs/security.md'), 'utf8');
  const section = new RegExp(`<!-- ${marker}:start -->([\\s\\S]*?)<!-- ${marker}:end -->`).exec(doc)?.[1];
  if (!section) throw new Error(`docs/security.md has no ${marker} table`);
  return section
    .split('\n')
    .filter((line) => line.startsWith('|'))
    .slice(2) // header and separator
    .map((line) =>
      line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
}
const codeSpans = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1]!);

/** Every IAM statement of the template, with the logical id of the role or policy that holds it. */
function iamStatements(): { owner: string; statement: Statement }[] {
  const found: { owner: string; statement: Statement }[] = [];
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type === 'AWS::IAM::Role') {
      for (const policy of resource.Properties.Policies ?? []) {
        for (const statement of list<Statement>(policy.PolicyDocument.Statement)) found.push({ owner: id, statement });
      }
    } else if (resource.Type === 'AWS::IAM::ManagedPolicy' || resource.Type === 'AWS::IAM::Policy') {
      for (const statement of list<Statement>(resource.Properties.PolicyDocument.Statement)) found.push({ owner: id, statement });
    }
  }
  return found;
}

/** The actions a role allows, from its inline policies and the template's managed policies attached to it. */
function allowedActions(roleId: string): string[] {
  const role = template.Resources[roleId];
  expect(role?.Type, `${roleId} is a role of this template`).toBe('AWS::IAM::Role');
  const attached = list<Json>(role!.Properties.ManagedPolicyArns).map((arn) => arn.Ref as string);
  return iamStatements()
    .filter(({ owner, statement }) => (owner === roleId || attached.includes(owner)) && statement.Effect === 'Allow')
    .flatMap(({ statement }) => list(statement.Action));
}

/** Replaces each `${placeholder}` of a `Fn::Sub` definition by the logical id its value refers to. */
function definitionOf(stateMachineId: string): { text: string; functionIds: Set<string> } {
  const definition = template.Resources[stateMachineId]!.Properties.DefinitionString;
  const [text, variables] = definition['Fn::Sub'] as [string, Record<string, Json>];
  const functionIds = new Set<string>();
  const resolved = text.replace(/\$\{([^}]+)\}/g, (whole, name: string) => {
    const getAtt = variables[name]?.['Fn::GetAtt'] as [string, string] | undefined;
    if (!getAtt) return whole;
    functionIds.add(getAtt[0]);
    return `arn:lambda:${getAtt[0]}`;
  });
  return { text: resolved, functionIds };
}

/** The state machines as the local cloud runs them: serverless.yml's `${file()}` includes, read by its own YAML loader. */
const localProject = loadServerlessProject({ stage: STAGE, env: {} });

async function aslTaskFunctions(machine: string): Promise<Set<string>> {
  const functions = new Set<string>();
  forEachState(stateMachineDefinition(await localProject, machine), (_name, state) => {
    const getAtt = (state.Resource as Json | undefined)?.['Fn::GetAtt'] as [string, string] | undefined;
    if (getAtt) functions.add(getAtt[0]);
  });
  return functions;
}

/**
 * The definition the template deploys, each `${placeholder}` of its Fn::Sub put back as the function reference it
 * stands for, less the `QueryLanguage: JSONPath` (the default) that the plugin's asl-validator writes into every state.
 */
function deployedDefinition(stateMachineId: string): unknown {
  const [text, variables] = template.Resources[stateMachineId]!.Properties.DefinitionString['Fn::Sub'] as [string, Record<string, Json>];
  const definition = JSON.parse(
    text.replace(/"\$\{([^}]+)\}"/g, (whole, name: string) => {
      const logicalId = (variables[name]?.['Fn::GetAtt'] as [string, string] | undefined)?.[0];
      const functionName = logicalId?.replace(/LambdaFunction$/, '');
      return functionName ? JSON.stringify({ 'Fn::GetAtt': [functionName[0]!.toLowerCase() + functionName.slice(1), 'Arn'] }) : whole;
    }),
  );
  forEachState(definition, (_name, state) => {
    if (state.QueryLanguage === 'JSONPath') delete state.QueryLanguage;
  });
  return definition;
}

describe(`sls package --stage ${STAGE}`, () => {
  it('runs every function on nodejs24.x, arm64, with its own role', () => {
    const functions = resources('AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThan(0);
    const roles = new Set<string>();
    for (const [id, fn] of functions) {
      expect(fn.Properties.Runtime, id).toBe('nodejs24.x');
      expect(fn.Properties.Architectures, id).toEqual(['arm64']);
      expect(fn.Properties.TracingConfig, id).toEqual({ Mode: 'Active' });
      const roleId = fn.Properties.Role?.['Fn::GetAtt']?.[0];
      expect(roleId, `${id} uses a role of this template`).toBeTypeOf('string');
      roles.add(roleId);
    }
    expect(roles.size, 'no two functions share a role').toBe(functions.length);
    expect(template.Resources.IamRoleLambdaExecution, 'no shared default role').toBeUndefined();
  });

  it('sets no endpoint override on AWS (only the local stage has one)', () => {
    for (const [id, fn] of resources('AWS::Lambda::Function')) {
      expect(fn.Properties.Environment.Variables.AWS_ENDPOINT_URL, id).toEqual({ Ref: 'AWS::NoValue' });
    }
  });

  it.each([
    ['provision', 'ProvisionStateMachine'],
    ['deprovision', 'DeprovisionStateMachine'],
    ['provisionFleet', 'ProvisionFleetStateMachine'],
  ])('deploys state machine %s as the local cloud runs it, from the same YAML', async (machine, id) => {
    expect(deployedDefinition(id)).toEqual(stateMachineDefinition(await localProject, machine));
  });

  describe.each([
    ['provision', 'ProvisionStateMachine'],
    ['deprovision', 'DeprovisionStateMachine'],
  ])('state machine %s', (machine, id) => {
    it('invokes exactly the functions its ASL names', async () => {
      const expected = [...(await aslTaskFunctions(machine))].map((name) => `${capitalize(name)}LambdaFunction`);
      const { functionIds } = definitionOf(id);
      expect([...functionIds].sort()).toEqual(expected.sort());
      for (const functionId of functionIds) expect(template.Resources[functionId]?.Type, functionId).toBe('AWS::Lambda::Function');
    });

    it('is STANDARD, logs errors without execution data, and is traced', () => {
      const properties = template.Resources[id]!.Properties;
      expect(properties.StateMachineType).toBe('STANDARD');
      expect(properties.StateMachineName).toBe(`iot-provisioning-workflow-${STAGE}-${machine}`);
      expect(properties.LoggingConfiguration.Level).toBe('ERROR');
      expect(properties.LoggingConfiguration.IncludeExecutionData).toBe(false);
      expect(properties.LoggingConfiguration.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn).toEqual({
        'Fn::GetAtt': [`${id}LogGroup`, 'Arn'],
      });
      expect(properties.TracingConfiguration).toEqual({ Enabled: true });
    });

    it('raises alarms on failed, throttled and timed-out executions', () => {
      const metrics = resources('AWS::CloudWatch::Alarm')
        .filter(([, alarm]) => alarm.Properties.Dimensions?.[0]?.Value?.Ref === id)
        .map(([, alarm]) => {
          expect(alarm.Properties.AlarmActions).toEqual([{ Ref: 'AlarmTopic' }]);
          return alarm.Properties.MetricName;
        });
      expect(metrics.sort()).toEqual(['ExecutionThrottled', 'ExecutionsFailed', 'ExecutionsTimedOut']);
    });

    it('can invoke only its own functions', () => {
      const { functionIds } = definitionOf(id);
      const invoke = iamStatements().filter(
        ({ owner, statement }) => owner === `${id}Role` && list(statement.Action).includes('lambda:InvokeFunction'),
      );
      const targets = invoke.flatMap(({ statement }) => list<Json>(statement.Resource as Json));
      const named = new Set(targets.map((target) => target['Fn::GetAtt']?.[0] ?? target['Fn::Sub']?.[1]?.functionArn?.['Fn::GetAtt']?.[0]));
      expect([...named].sort()).toEqual([...functionIds].sort());
    });
  });

  /** The dimensions SummarizeRequest publishes its device counts under (Powertools: service, plus workflow). */
  function outcomeMetric(metricName: string, workflow: string) {
    const environment = template.Resources.SummarizeRequestLambdaFunction!.Properties.Environment.Variables;
    return {
      Namespace: environment.POWERTOOLS_METRICS_NAMESPACE,
      MetricName: metricName,
      Dimensions: [
        { Name: 'service', Value: environment.POWERTOOLS_SERVICE_NAME },
        { Name: 'workflow', Value: workflow },
      ],
    };
  }

  it('raises an alarm when the failed devices of both workflows within 5 minutes reach the stage parameter devicesFailedAlarmThreshold', async () => {
    const params = parseYaml(await readFile(join(ROOT, 'serverless.yml'), 'utf8')).params;
    const threshold = Number(params[STAGE]?.devicesFailedAlarmThreshold ?? params.default.devicesFailedAlarmThreshold);
    const alarm = template.Resources.DevicesFailedAlarm!.Properties;

    expect(alarm.Threshold).toBe(threshold);
    expect(alarm.ComparisonOperator).toBe('GreaterThanOrEqualToThreshold');
    expect(alarm.AlarmActions).toEqual([{ Ref: 'AlarmTopic' }]);
    const queries = new Map<string, Json>(alarm.Metrics.map((query: Json) => [query.Id, query]));
    const [returned] = alarm.Metrics.filter((query: Json) => query.ReturnData !== false);
    const summed = (returned.Expression as string).split('+').map((id) => queries.get(id.trim())!);
    expect(summed.map((query) => query.MetricStat)).toEqual(
      ['provision', 'deprovision'].map((workflow) => ({ Metric: outcomeMetric('DevicesFailed', workflow), Period: 300, Stat: 'Sum' })),
    );
  });

  it('raises an alarm on the first incomplete rollback, as SummarizeRequest publishes it', () => {
    const alarm = template.Resources.RollbacksIncompleteAlarm!.Properties;
    expect({ Namespace: alarm.Namespace, MetricName: alarm.MetricName, Dimensions: alarm.Dimensions }).toEqual(
      outcomeMetric('RollbacksIncomplete', 'provision'),
    );
    expect([alarm.Statistic, alarm.Threshold, alarm.ComparisonOperator]).toEqual(['Sum', 1, 'GreaterThanOrEqualToThreshold']);
    expect(alarm.AlarmActions).toEqual([{ Ref: 'AlarmTopic' }]);
  });

  it('describes every alarm in resolved text, with no variable left in it', () => {
    const descriptions = resources('AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties.AlarmDescription);
    expect(descriptions.length).toBeGreaterThan(0);
    for (const description of descriptions) expect(description).not.toMatch(/\$\{/);
  });

  describe('the dashboard', () => {
    const body = () => template.Resources.OperationsDashboard!.Properties.DashboardBody['Fn::Sub'] as string;
    const widgets = () => (JSON.parse(body()) as { widgets: { type: string; properties: Json }[] }).widgets;
    const expressions = () =>
      widgets().flatMap((widget) =>
        (widget.properties.metrics ?? []).flatMap((row: unknown[]) => row.flatMap((cell) => (cell as Json)?.expression ?? [])),
      );

    it('substitutes only pseudo parameters and attributes of this template', () => {
      for (const [, name] of body().matchAll(/\$\{([^}]+)\}/g)) {
        if (name!.startsWith('AWS::')) continue;
        const [logicalId, attribute] = name!.split('.');
        expect(template.Resources[logicalId!]?.Type, name).toBe('AWS::CloudWatch::Alarm');
        expect(attribute, name).toBe('Arn');
      }
    });

    it('graphs each device outcome a minute per workflow, and throttled attempts a minute per step', () => {
      const service = outcomeMetric('', '').Dimensions[0]!.Value;
      expect(expressions()).toEqual([
        `SEARCH('{IoTProvisioning,service,workflow} service="${service}" MetricName=("DevicesSucceeded" OR "DevicesFailed" OR "DevicesRolledBack" OR "RollbacksIncomplete")', 'Sum', 60)`,
        `SEARCH('{IoTProvisioning,service,step} service="${service}" MetricName="Throttled"', 'Sum', 60)`,
      ]);
    });

    it('graphs the executions running and started per state machine, and shows the device and dead-letter alarms', () => {
      const metricRows = widgets().flatMap((widget) => (widget.properties.metrics ?? []) as unknown[][]);
      const named = metricRows
        .filter((row) => typeof row[0] === 'string')
        .map((row) => row.filter((cell) => typeof cell === 'string').join(' '));
      expect(named).toEqual([
        'AWS/States OpenExecutionCount',
        ...['provision', 'deprovision'].map(
          (machine) =>
            `AWS/States ExecutionsStarted StateMachineArn arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:stateMachine:iot-provisioning-workflow-${STAGE}-${machine}`,
        ),
      ]);
      const shown = widgets().flatMap((widget) => (widget.type === 'alarm' ? (widget.properties.alarms as string[]) : []));
      expect(shown.sort()).toEqual([
        '${DevicesFailedAlarm.Arn}',
        '${ProvisioningEventsDeadLetterQueueAlarm.Arn}',
        '${RollbacksIncompleteAlarm.Arn}',
      ]);
    });
  });

  it('requires IAM authorization on every API method', () => {
    const methods = resources('AWS::ApiGateway::Method');
    expect(methods.map(([, method]) => method.Properties.HttpMethod).sort()).toEqual([...Array(6).fill('GET'), ...Array(7).fill('POST')]);
    for (const [id, method] of methods) expect(method.Properties.AuthorizationType, id).toBe('AWS_IAM');
  });

  it('starts provisioning only for its own event source and detail-type, with retries and a dead-letter queue', () => {
    const rules = resources('AWS::Events::Rule').filter(([, rule]) => rule.Properties.EventPattern.source[0] !== 'aws.s3');
    expect(rules).toHaveLength(1);
    const [, rule] = rules[0]!;
    expect(rule.Properties.EventPattern).toEqual({
      source: ['iot-provisioning-workflow'],
      'detail-type': ['Provisioning Requested'],
    });
    const [target] = rule.Properties.Targets;
    expect(target.Arn).toEqual({ 'Fn::GetAtt': ['HandleProvisioningEventLambdaFunction', 'Arn'] });
    expect(target.RetryPolicy.MaximumRetryAttempts).toBeGreaterThan(0);
    expect(target.DeadLetterConfig.Arn).toEqual({ 'Fn::GetAtt': ['ProvisioningEventsDeadLetterQueue', 'Arn'] });
    // Failures after delivery (the function itself) end in the same queue.
    const invokeConfig = template.Resources.HandleProvisioningEventLambdaEvConf!.Properties;
    expect(invokeConfig.DestinationConfig.OnFailure.Destination).toEqual(target.DeadLetterConfig.Arn);
  });

  it('starts a fleet run only for objects created under manifests/ in the fleet bucket, with retries and the dead-letter queue', () => {
    const rules = resources('AWS::Events::Rule').filter(([, rule]) => rule.Properties.EventPattern.source[0] === 'aws.s3');
    expect(rules).toHaveLength(1);
    const [, rule] = rules[0]!;
    expect(rule.Properties.EventBusName).toBeUndefined();
    expect(rule.Properties.EventPattern).toEqual({
      source: ['aws.s3'],
      'detail-type': ['Object Created'],
      detail: { bucket: { name: [{ prefix: `iot-provisioning-workflow-${STAGE}-fleet-` }] }, object: { key: [{ prefix: 'manifests/' }] } },
    });
    const [target] = rule.Properties.Targets;
    expect(target.Arn).toEqual({ 'Fn::GetAtt': ['HandleManifestUploadedLambdaFunction', 'Arn'] });
    expect(template.Resources.FleetBucket!.Properties.NotificationConfiguration).toEqual({
      EventBridgeConfiguration: { EventBridgeEnabled: true },
    });
    expect(target.RetryPolicy.MaximumRetryAttempts).toBeGreaterThan(0);
    expect(target.DeadLetterConfig.Arn).toEqual({ 'Fn::GetAtt': ['ProvisioningEventsDeadLetterQueue', 'Arn'] });
    expect(template.Resources.HandleManifestUploadedLambdaEvConf!.Properties.DestinationConfig.OnFailure.Destination).toEqual(
      target.DeadLetterConfig.Arn,
    );
    // The queue takes messages from this rule too (it is on the default bus: rule/<name>).
    const [queueStatement] = template.Resources.ProvisioningEventsDeadLetterQueuePolicy!.Properties.PolicyDocument.Statement;
    expect(queueStatement.Condition.ArnLike['aws:SourceArn']).toContainEqual({
      'Fn::Sub': `arn:\${AWS::Partition}:events:\${AWS::Region}:\${AWS::AccountId}:rule/iot-provisioning-workflow-${STAGE}-manifest-uploaded`,
    });
  });

  it('keeps the fleet bucket private, encrypted and reachable over TLS only', () => {
    const bucket = template.Resources.FleetBucket!.Properties;
    expect(bucket.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('AES256');
    expect(bucket.LifecycleConfiguration.Rules[0]).toMatchObject({ Status: 'Enabled', ExpirationInDays: 90 });
    const [statement] = template.Resources.FleetBucketPolicy!.Properties.PolicyDocument.Statement;
    expect(statement).toMatchObject({
      Effect: 'Deny',
      Principal: '*',
      Action: 's3:*',
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    });
  });

  it('never allows every action, or every action of a service', () => {
    for (const { owner, statement } of iamStatements()) {
      if (statement.Effect !== 'Allow') continue;
      for (const action of list(statement.Action)) {
        expect(action, owner).not.toBe('*');
        expect(action, owner).not.toMatch(/^[a-z0-9-]+:\*$/);
      }
    }
  });

  it('grants Resource "*" only as justified in docs/security.md', async () => {
    const justified = new Set(
      (await securityTable('wildcard-resources')).flatMap(([action, owners]) =>
        codeSpans(owners!).map((owner) => `${codeSpans(action!)[0]} @ ${owner}`),
      ),
    );
    const granted = new Set(
      iamStatements()
        .filter(({ statement }) => statement.Effect === 'Allow' && list(statement.Resource).includes('*'))
        .flatMap(({ owner, statement }) => list(statement.Action).map((action) => `${action} @ ${owner}`)),
    );
    expect(
      [...granted].filter((grant) => !justified.has(grant)),
      'granted on * but not justified',
    ).toEqual([]);
    expect(
      [...justified].filter((grant) => !granted.has(grant)),
      'justified but no longer granted',
    ).toEqual([]);
  });

  it('gives each function exactly the actions docs/security.md lists, and logs only to its own log group', async () => {
    const table = await securityTable('function-permissions');
    const functionIds = resources('AWS::Lambda::Function').map(([id]) => id);
    expect(table.map(([name]) => `${capitalize(codeSpans(name!)[0]!)}LambdaFunction`).sort()).toEqual(functionIds.sort());

    const baseline = ['logs:CreateLogStream', 'logs:PutLogEvents', 'xray:PutTraceSegments', 'xray:PutTelemetryRecords'];
    for (const [nameCell, actionsCell] of table) {
      const name = codeSpans(nameCell!)[0]!;
      const fn = template.Resources[`${capitalize(name)}LambdaFunction`]!;
      const roleId = fn.Properties.Role['Fn::GetAtt'][0] as string;
      const actions = allowedActions(roleId);
      expect(actions.filter((action) => !baseline.includes(action)).sort(), name).toEqual(codeSpans(actionsCell!).sort());
      for (const action of baseline) expect(actions, `${name} may ${action}`).toContain(action);

      const logStatement = iamStatements().find(
        ({ owner, statement }) => owner === roleId && list(statement.Action).includes('logs:PutLogEvents'),
      );
      expect(logStatement?.statement.Resource, name).toEqual({
        'Fn::Sub': `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${fn.Properties.FunctionName}:*`,
      });
    }
  });
});
