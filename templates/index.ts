import thingWithAttributes from './thing-with-attributes.json' with { type: 'json' };
import thingWithCertificateFromCsr from './thing-with-certificate-from-csr.json' with { type: 'json' };

/** Provisioning templates shipped with the service, selectable by `templateName`. */
export const shippedTemplates = {
  'thing-with-attributes': thingWithAttributes,
  'thing-with-certificate-from-csr': thingWithCertificateFromCsr,
} as const;

export type ShippedTemplateName = keyof typeof shippedTemplates;

export const defaultTemplateName: ShippedTemplateName = 'thing-with-attributes';

export const shippedTemplateNames = Object.keys(shippedTemplates) as [ShippedTemplateName, ...ShippedTemplateName[]];
