import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadServerlessProject } from '../../../../local-cloud/lambda/serverless-project.ts';
import { resolveVariables, type VariableSources } from '../../../../local-cloud/lambda/serverless-variables.ts';
import { FIXTURE_SERVERLESS_PATH } from '../../../support/fixture-project.ts';

function sources(document: Record<string, unknown>, overrides: Partial<VariableSources> = {}): VariableSources {
  return { document, stage: 'local', options: { stage: 'local' }, params: {}, env: {}, baseDir: '/', ...overrides };
}

describe('Serverless variable resolution', () => {
  it('keeps the type of a value that is exactly one variable and interpolates embedded ones', () => {
    const document = { custom: { limits: { max: 5 }, name: 'svc' } };
    expect(resolveVariables({ a: '${self:custom.limits}', b: 'x-${self:custom.name}-${sls:stage}' }, sources(document))).toEqual({
      a: { max: 5 },
      b: 'x-svc-local',
    });
  });

  it("leaves CloudFormation's ${AWS::…} references for CloudFormation and resolves the Framework's beside them", () => {
    expect(resolveVariables({ 'Fn::Sub': '${AWS::StackName}-${sls:stage}-${AWS::Region}' }, sources({}))).toEqual({
      'Fn::Sub': '${AWS::StackName}-local-${AWS::Region}',
    });
  });

  it('uses the first fallback that has a value, including references and literals', () => {
    const document = { custom: { present: 'here' } };
    const resolved = resolveVariables(
      [
        '${env:MISSING, self:custom.present}',
        "${opt:region, 'eu-central-1'}",
        '${env:MISSING, self:custom.absent, 42}',
        '${env:SET, "no"}',
      ],
      sources(document, { env: { SET: 'yes' } }),
    );
    expect(resolved).toEqual(['here', 'eu-central-1', 42, 'yes']);
  });

  it('resolves variables inside addresses and inside resolved values', () => {
    const document = { custom: { byStage: { local: '${param:greeting}' } } };
    expect(resolveVariables('${self:custom.byStage.${sls:stage}}', sources(document, { params: { greeting: 'hi' } }))).toBe('hi');
  });

  it('fails with the variable named when nothing resolves', () => {
    expect(() => resolveVariables('${env:NOPE}', sources({}))).toThrow(/env:NOPE/);
  });

  it('rejects variable sources outside the contract', () => {
    expect(() => resolveVariables('${ssm:/path}', sources({}))).toThrow(/Unsupported variable source "ssm"/);
  });

  it('detects a cycle of self references', () => {
    expect(() => resolveVariables('${self:a}', sources({ a: '${self:b}', b: '${self:a}' }))).toThrow(/cycle/);
  });

  it('reads a YAML ${file()} as the Framework does: anchors, merge keys, and the variables inside it resolved', () => {
    const baseDir = mkdtempSync(join(tmpdir(), 'serverless-variables-'));
    writeFileSync(join(baseDir, 'policies.yml'), 'standard:\n  - &quick {Interval: 1, Max: 3}\n  - {Interval: 2}\nquickOnly: [*quick]\n');
    writeFileSync(
      join(baseDir, 'machine.yml'),
      [
        'First: &task',
        '  Type: Task',
        '  Retry: ${file(./policies.yml):standard}',
        '  Next: Second',
        'Second:',
        '  <<: *task',
        '  Retry: ${file(./policies.yml):quickOnly}',
        '  Next: Third',
        'Third: *task',
      ].join('\n'),
    );
    const resolved = resolveVariables('${file(./machine.yml)}', sources({}, { baseDir })) as Record<string, Record<string, unknown>>;
    expect(resolved).toEqual({
      First: { Type: 'Task', Retry: [{ Interval: 1, Max: 3 }, { Interval: 2 }], Next: 'Second' },
      Second: { Type: 'Task', Retry: [{ Interval: 1, Max: 3 }], Next: 'Third' },
      Third: { Type: 'Task', Retry: [{ Interval: 1, Max: 3 }, { Interval: 2 }], Next: 'Second' },
    });
    expect(Object.keys(resolved.Second!), 'a merged mapping keeps the order of its anchor').toEqual(['Type', 'Retry', 'Next']);
    expect(resolved.Third, 'an alias resolves to a copy of its own').not.toBe(resolved.First);
  });

  it('loads the fixture project for a stage, with params, files, env and CloudFormation kept verbatim', async () => {
    const project = await loadServerlessProject({ path: FIXTURE_SERVERLESS_PATH, env: { FIXTURE_FROM_ENV: 'from-env' } });
    const provider = project.config.provider as Record<string, Record<string, unknown>>;
    expect(project).toMatchObject({ stage: 'local', service: 'fixture-app', region: 'eu-west-1' });
    expect(provider.environment).toEqual({
      GREETING: 'hello-local',
      TABLE_NAME: 'fixture-app-local-table',
      FROM_ENV: 'from-env',
      MAX_ITEMS: 25,
      WORKFLOW_ARN: { Ref: 'WorkflowStateMachine' },
      BUCKET_NAME: { Ref: 'SomeBucket' },
    });
    expect(project.config.custom).toMatchObject({ stageValue: 'local-value', missingWithFallback: 'fixture-app-local-table' });
    expect(project.config.resources).toMatchObject({
      Resources: {
        WorkflowLogGroup: {
          Type: 'AWS::Logs::LogGroup',
          Properties: { LogGroupName: '/aws/vendedlogs/states/fixture-workflow-${sls:stage}' },
        },
        SomeBucket: { Type: 'AWS::S3::Bucket', Properties: { BucketName: { 'Fn::Sub': '${AWS::StackName}-bucket' } } },
      },
    });
  });

  it('merges a resources: list as the Framework does, reading a part given as ${file()}, both kept verbatim', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'serverless-resources-'));
    writeFileSync(
      join(directory, 'roles.yml'),
      'Resources:\n  FnRole:\n    Type: AWS::IAM::Role\n    Properties:\n      RoleName: ${self:service}-role\n',
    );
    writeFileSync(
      join(directory, 'serverless.yml'),
      [
        'service: merged',
        'resources:',
        '  - ${file(./roles.yml)}',
        '  - Resources:',
        '      Table:',
        '        Type: AWS::DynamoDB::Table',
        '        Properties:',
        '          TableName: ${self:service}-table',
      ].join('\n'),
    );
    const project = await loadServerlessProject({ path: join(directory, 'serverless.yml'), env: {} });
    expect(project.config.resources).toEqual({
      Resources: {
        FnRole: { Type: 'AWS::IAM::Role', Properties: { RoleName: '${self:service}-role' } },
        Table: { Type: 'AWS::DynamoDB::Table', Properties: { TableName: '${self:service}-table' } },
      },
    });
  });

  it('falls back to params.default for another stage', async () => {
    const project = await loadServerlessProject({ path: FIXTURE_SERVERLESS_PATH, stage: 'prod', env: {} });
    const provider = project.config.provider as Record<string, Record<string, unknown>>;
    expect(provider.environment!.GREETING).toBe('hello');
    expect((project.config.custom as Record<string, unknown>).stageValue).toBe('prod-value');
  });
});
