import type { TableDefinition } from '../services/dynamodb/index.ts';
import { isPlainObject } from '../wire/validation.ts';
import type { ServerlessProject } from './serverless-project.ts';

/** The `AWS::DynamoDB::Table` resources of a project, as CloudFormation would create them for the stage. */
export function stackTablesOf(project: ServerlessProject): TableDefinition[] {
  const resources =
    isPlainObject(project.config.resources) && isPlainObject(project.config.resources.Resources) ? project.config.resources.Resources : {};
  return Object.values(resources)
    .filter((resource) => isPlainObject(resource) && resource.Type === 'AWS::DynamoDB::Table')
    .map((resource) => {
      const properties = project.resolveVariables((resource as { Properties: unknown }).Properties) as TableDefinition;
      return {
        TableName: properties.TableName,
        KeySchema: properties.KeySchema,
        AttributeDefinitions: properties.AttributeDefinitions,
        ...(properties.TimeToLiveSpecification && { TimeToLiveSpecification: properties.TimeToLiveSpecification }),
      };
    });
}
