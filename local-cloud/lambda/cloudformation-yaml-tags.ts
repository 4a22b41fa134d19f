import { type CollectionTag, parse, type ScalarTag } from 'yaml';

/**
 * The CloudFormation short forms (`!Ref X`, `!GetAtt A.B`, `!Sub '...'`, ...) that `serverless.yml` may use,
 * read into their long JSON forms as the Framework does, so that e.g. `!Ref ProvisionStateMachine` in an
 * environment block becomes `{Ref: ProvisionStateMachine}`.
 */
const FUNCTIONS = [
  'And',
  'Base64',
  'Cidr',
  'Equals',
  'FindInMap',
  'GetAZs',
  'If',
  'ImportValue',
  'Join',
  'Not',
  'Or',
  'Select',
  'Split',
  'Sub',
];

function longForm(name: string, value: unknown): Record<string, unknown> {
  if (name === 'Ref' || name === 'Condition') return { [name]: value };
  if (name === 'GetAtt' && typeof value === 'string') {
    const dot = value.indexOf('.');
    return { 'Fn::GetAtt': [value.slice(0, dot), value.slice(dot + 1)] };
  }
  return { [`Fn::${name}`]: value };
}

function tagsFor(name: string): (ScalarTag | CollectionTag)[] {
  const tag = `!${name}`;
  return [
    { tag, identify: () => false, resolve: (value: string) => longForm(name, value) },
    { tag, collection: 'seq', identify: () => false, resolve: (seq) => longForm(name, seq.toJSON()) as never },
    { tag, collection: 'map', identify: () => false, resolve: (map) => longForm(name, map.toJSON()) as never },
  ];
}

export const cloudFormationTags = ['Ref', 'Condition', 'GetAtt', ...FUNCTIONS].flatMap(tagsFor);

/**
 * YAML as the Framework reads `serverless.yml` and the YAML files of `${file()}` (js-yaml, with these tags): YAML 1.1
 * merge keys (`<<: *anchor`) included, which the state machines use and the `yaml` package reads only when asked.
 */
export function parseFrameworkYaml(text: string): unknown {
  return parse(text, { customTags: cloudFormationTags, merge: true });
}
