/**
 * Lambda gives a function its role's credentials in the environment, so its bundles swap the SDK's
 * default provider chain (SSO, profiles, web identity, IMDS: a quarter of a task bundle) for the
 * environment provider, via an esbuild alias in serverless.yml. Code run from source keeps the chain.
 */
export { fromEnv as defaultProvider } from '@aws-sdk/credential-provider-env';
