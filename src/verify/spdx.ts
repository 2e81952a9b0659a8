/**
 * The SBOM as an SPDX 2.3 JSON document, made from the CycloneDX one (sbom.ts): the same components,
 * facts and licenses, in SPDX's terms.
 *
 * - Each component is a package (filesAnalyzed false): name, versionInfo, SHA-256 checksums, the purl as
 *   an external reference, the tarball URL as downloadLocation (else NOASSERTION), the CycloneDX
 *   properties (store path, nixpkgs attribute, npm location, native plan...) in its comment. A native
 *   addon's .node files are packages of purpose FILE that it CONTAINS (an SPDX file needs a SHA-1,
 *   which addonix does not compute).
 * - licenseDeclared: an SPDX license expression; a license that has no SPDX id (nixpkgs' publicDomain,
 *   a lockfile's `SEE LICENSE IN …`) is a LicenseRef- with its name in hasExtractedLicensingInfos. Several
 *   licenses of one nixpkgs package are joined with AND: meta.license lists them without saying how they
 *   combine, and AND claims no choice. licenseConcluded is NOASSERTION: addonix reads licenses, it does
 *   not audit them.
 * - The image is the package the document DESCRIBES; it CONTAINS every other one.
 * - creationInfo.created is the image's own creation time (1970-01-01T00:00:01Z for addonix's images)
 *   and documentNamespace derives from the image's config digest, so that the same image gives the same
 *   document, as the CycloneDX one does.
 */
import { createRequire } from 'node:module';

const parseExpression = createRequire(import.meta.url)('spdx-expression-parse') as (expression: string) => unknown;

export const SPDX_VERSION = 'SPDX-2.3';

interface CdxLicense {
  expression?: string;
  license?: { id?: string; name?: string };
}

interface CdxComponent {
  type: string;
  'bom-ref': string;
  name: string;
  group?: string;
  version?: string;
  purl?: string;
  hashes?: { alg: string; content: string }[];
  licenses?: CdxLicense[];
  externalReferences?: { type: string; url: string }[];
  properties?: { name: string; value: string }[];
  components?: CdxComponent[];
}

interface CdxDocument {
  serialNumber: string;
  metadata: { tools: { components: { name: string; version: string }[] }; component: CdxComponent };
  components: CdxComponent[];
}

interface SpdxPackage {
  SPDXID: string;
  name: string;
  versionInfo?: string;
  downloadLocation: string;
  filesAnalyzed: false;
  checksums?: { algorithm: 'SHA1' | 'SHA256' | 'SHA384' | 'SHA512'; checksumValue: string }[];
  licenseConcluded: string;
  licenseDeclared: string;
  copyrightText: string;
  externalRefs?: { referenceCategory: 'PACKAGE-MANAGER'; referenceType: 'purl'; referenceLocator: string }[];
  primaryPackagePurpose: 'CONTAINER' | 'LIBRARY' | 'FILE' | 'APPLICATION';
  comment?: string;
}

/** Whether SPDX's expression grammar and license list accept the text. */
export function isSpdxExpression(text: string): boolean {
  try {
    parseExpression(text);
    return true;
  } catch {
    return false;
  }
}

/** `SPDXRef-` + the text with what SPDX ids cannot hold ([A-Za-z0-9.-] only) replaced. */
function idText(text: string): string {
  return text.replace(/[^A-Za-z0-9.-]+/g, '-').replace(/^-+|-+$/g, '') || 'x';
}

/** Converts the CycloneDX document (see the module comment). */
export function spdxFromCycloneDx(bom: object, created: string): object {
  const cdx = bom as CdxDocument;
  const ids = new Map<string, string>();
  const taken = new Set<string>();
  const idOf = (ref: string, hint: string): string => {
    const known = ids.get(ref);
    if (known) return known;
    let id = `SPDXRef-${idText(hint)}`;
    for (let n = 2; taken.has(id); n++) id = `SPDXRef-${idText(hint)}-${n}`;
    taken.add(id);
    ids.set(ref, id);
    return id;
  };
  const extracted = new Map<string, string>();
  const licenseRef = (name: string): string => {
    const id = `LicenseRef-${idText(name)}`;
    extracted.set(id, name);
    return id;
  };
  const declared = (licenses: CdxLicense[] | undefined): string => {
    const terms = (licenses ?? []).map((entry) => {
      if (entry.expression !== undefined) return isSpdxExpression(entry.expression) ? (licenses!.length > 1 ? `(${entry.expression})` : entry.expression) : licenseRef(entry.expression);
      if (entry.license?.id) return entry.license.id;
      return licenseRef(entry.license?.name ?? 'unknown');
    });
    return terms.length > 0 ? terms.join(' AND ') : 'NOASSERTION';
  };
  const algorithms: Record<string, 'SHA1' | 'SHA256' | 'SHA384' | 'SHA512'> = { 'SHA-1': 'SHA1', 'SHA-256': 'SHA256', 'SHA-384': 'SHA384', 'SHA-512': 'SHA512' };

  const packages: SpdxPackage[] = [];
  const relationships: { spdxElementId: string; relationshipType: 'DESCRIBES' | 'CONTAINS'; relatedSpdxElement: string }[] = [];
  const add = (component: CdxComponent, purpose: SpdxPackage['primaryPackagePurpose']): string => {
    const id = idOf(component['bom-ref'], component['bom-ref'].startsWith('/nix/store/') ? component['bom-ref'].slice('/nix/store/'.length) : component['bom-ref']);
    const checksums = (component.hashes ?? []).filter((h) => algorithms[h.alg]).map((h) => ({ algorithm: algorithms[h.alg]!, checksumValue: h.content }));
    const distribution = component.externalReferences?.find((r) => r.type === 'distribution')?.url;
    packages.push({
      SPDXID: id,
      name: component.group ? `${component.group}/${component.name}` : component.name,
      ...(component.version ? { versionInfo: component.version } : {}),
      downloadLocation: distribution ?? 'NOASSERTION',
      filesAnalyzed: false,
      ...(checksums.length > 0 ? { checksums } : {}),
      licenseConcluded: 'NOASSERTION',
      licenseDeclared: declared(component.licenses),
      copyrightText: 'NOASSERTION',
      ...(component.purl ? { externalRefs: [{ referenceCategory: 'PACKAGE-MANAGER' as const, referenceType: 'purl' as const, referenceLocator: component.purl }] } : {}),
      primaryPackagePurpose: purpose,
      ...(component.properties?.length ? { comment: component.properties.map((p) => `${p.name}: ${p.value}`).join('\n') } : {}),
    });
    return id;
  };

  const image = add(cdx.metadata.component, 'CONTAINER');
  relationships.push({ spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: image });
  for (const component of cdx.components) {
    const id = add(component, component.type === 'container' ? 'CONTAINER' : 'LIBRARY');
    relationships.push({ spdxElementId: image, relationshipType: 'CONTAINS', relatedSpdxElement: id });
    for (const file of component.components ?? []) {
      relationships.push({ spdxElementId: id, relationshipType: 'CONTAINS', relatedSpdxElement: add(file, 'FILE') });
    }
  }

  const tool = cdx.metadata.tools.components[0]!;
  const name = `${cdx.metadata.component.name}-${cdx.metadata.component.properties?.find((p) => p.name === 'addonix:arch')?.value ?? 'image'}`;
  return {
    spdxVersion: SPDX_VERSION,
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name,
    documentNamespace: `https://spdx.org/spdxdocs/addonix/${encodeURIComponent(name)}-${cdx.serialNumber.replace(/^urn:uuid:/, '')}`,
    creationInfo: { created, creators: [`Tool: ${tool.name}-${tool.version}`] },
    packages,
    relationships,
    ...(extracted.size > 0
      ? {
          hasExtractedLicensingInfos: [...extracted].sort(([a], [b]) => a.localeCompare(b)).map(([licenseId, licenseName]) => ({
            licenseId,
            name: licenseName,
            extractedText: `The license named "${licenseName}" by the package's metadata; its text is not recorded there.`,
          })),
        }
      : {}),
  };
}
