import { X509Certificate } from 'node:crypto';
import type { CertificateRecord, CertificateStatus } from '../../store.ts';
import type { LocalCloudContext } from '../../wire/context.ts';
import { queryBoolean, queryInteger, queryString } from '../../wire/http-bindings.ts';
import { listPages } from '../../wire/pagination.ts';
import { jsonResponse } from '../../wire/rest-json.ts';
import type { RestRoute } from '../../wire/routes.ts';
import { type CertificateAuthority, CertificateRequestError, type ParsedCertificate, parseCertificate } from './certificate-authority.ts';
import { iotError } from './errors.ts';
import { certificateArn, newCertificateRecord } from './registry.ts';
import { markerPage, parseBody, requireValid } from './requests.ts';
import * as shapes from './shapes.ts';

/** Statuses IoT uses internally, which a caller cannot set (as in UpdateCertificate). */
const INTERNAL_STATUSES: readonly CertificateStatus[] = ['PENDING_TRANSFER', 'PENDING_ACTIVATION', 'REGISTER_INACTIVE'];

/** CreateCertificateFromCsr, RegisterCertificate, RegisterCertificateWithoutCA and ListCertificates. */
export function certificateRoutes(context: LocalCloudContext, authority: CertificateAuthority): RestRoute[] {
  const { store, clock, accountId } = context;
  const state = store.state;

  const register = (
    region: string,
    parsed: ParsedCertificate,
    status: CertificateStatus,
    caCertificateId: string | undefined,
    certificateMode: 'DEFAULT' | 'SNI_ONLY',
  ) => {
    const arn = certificateArn(region, accountId, parsed.certificateId);
    if (state.certificates.has(parsed.certificateId)) {
      throw iotError('ResourceAlreadyExistsException', 'The certificate is already provisioned or registered', {
        resourceId: parsed.certificateId,
        resourceArn: arn,
      });
    }
    state.certificates.set(parsed.certificateId, newCertificateRecord(parsed, status, clock.now(), caCertificateId, certificateMode));
    return arn;
  };
  const registeredStatus = (status: CertificateStatus | undefined, setAsActive: boolean | undefined): CertificateStatus => {
    if (status !== undefined && INTERNAL_STATUSES.includes(status)) {
      throw iotError('InvalidRequestException', `The status ${status} is used internally by IoT and cannot be set`);
    }
    return status ?? (setAsActive === true ? 'ACTIVE' : 'INACTIVE');
  };

  return [
    {
      method: 'POST',
      path: '/certificates',
      operation: {
        name: 'CreateCertificateFromCsr',
        async run({ request }) {
          const input = requireValid(
            { ...parseBody(request.body), setAsActive: queryBoolean(request.query, 'setAsActive') },
            shapes.createCertificateFromCsrInput,
          ) as { certificateSigningRequest: string; setAsActive?: boolean };
          let issued;
          try {
            issued = await authority.signRequest(input.certificateSigningRequest);
          } catch (error) {
            if (error instanceof CertificateRequestError)
              throw iotError('InvalidRequestException', `The certificate signing request is not valid: ${error.message}`);
            throw error;
          }
          // Every request makes a new certificate, even for the same CSR (model documentation).
          const arn = register(
            request.region,
            issued,
            input.setAsActive === true ? 'ACTIVE' : 'INACTIVE',
            issued.caCertificateId,
            'DEFAULT',
          );
          return jsonResponse({ certificateArn: arn, certificateId: issued.certificateId, certificatePem: issued.certificatePem });
        },
      },
    },
    {
      method: 'POST',
      path: '/certificate/register',
      operation: {
        name: 'RegisterCertificate',
        async run({ request }) {
          const input = requireValid(
            { ...parseBody(request.body), setAsActive: queryBoolean(request.query, 'setAsActive') },
            shapes.registerCertificateInput,
          ) as { certificatePem: string; caCertificatePem?: string; setAsActive?: boolean; status?: CertificateStatus };
          const parsed = readCertificate(input.certificatePem);
          const status = registeredStatus(input.status, input.setAsActive);
          const caCertificateId = await authority.issuerOf(input.certificatePem, input.caCertificatePem);
          if (caCertificateId === undefined) {
            throw iotError('CertificateValidationException', 'The certificate is not signed by a registered CA certificate');
          }
          const arn = register(request.region, parsed, status, caCertificateId, 'DEFAULT');
          return jsonResponse({ certificateArn: arn, certificateId: parsed.certificateId });
        },
      },
    },
    {
      method: 'POST',
      path: '/certificate/register-no-ca',
      operation: {
        name: 'RegisterCertificateWithoutCA',
        run({ request }) {
          const input = requireValid(parseBody(request.body), shapes.registerCertificateInput) as {
            certificatePem: string;
            status?: CertificateStatus;
          };
          const parsed = readCertificate(input.certificatePem);
          const arn = register(request.region, parsed, registeredStatus(input.status, undefined), undefined, 'SNI_ONLY');
          return jsonResponse({ certificateArn: arn, certificateId: parsed.certificateId });
        },
      },
    },
    {
      method: 'GET',
      path: '/certificates',
      operation: {
        name: 'ListCertificates',
        run({ request }) {
          const input = requireValid(
            {
              pageSize: queryInteger(request.query, 'pageSize'),
              marker: queryString(request.query, 'marker'),
              ascendingOrder: queryBoolean(request.query, 'isAscendingOrder'),
            },
            shapes.listCertificatesInput,
          ) as { pageSize?: number; marker?: string; ascendingOrder?: boolean };
          // By creation date, newest first unless asked otherwise (the model's `ascendingOrder`); the PEMs are left behind.
          const byCreation: Array<Pick<CertificateRecord, 'certificateId' | 'status' | 'certificateMode' | 'createdAt'>> = [];
          for (const { certificateId, status, certificateMode, createdAt } of state.certificates.values())
            byCreation.push({ certificateId, status, certificateMode, createdAt });
          byCreation.sort((a, b) => a.createdAt - b.createdAt);
          const ordered = input.ascendingOrder === true ? byCreation : byCreation.reverse();
          const { items, nextMarker } = markerPage(
            listPages(ordered, (certificate) => certificate.certificateId),
            input,
          );
          return jsonResponse({
            certificates: items.map((certificate) => ({
              certificateArn: certificateArn(request.region, accountId, certificate.certificateId),
              certificateId: certificate.certificateId,
              status: certificate.status,
              certificateMode: certificate.certificateMode,
              creationDate: certificate.createdAt / 1000,
            })),
            ...(nextMarker !== undefined && { nextMarker }),
          });
        },
      },
    },
  ];
}

function readCertificate(pem: string): ParsedCertificate {
  try {
    new X509Certificate(pem);
  } catch {
    throw iotError('CertificateValidationException', 'The certificate is not a valid PEM-encoded X.509 certificate');
  }
  return parseCertificate(pem);
}
