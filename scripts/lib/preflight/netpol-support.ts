// Does this cluster enforce NetworkPolicies? A CNI that does not simply ignores them, so preflight
// says so instead of letting the user believe the database is fenced off. Pure: decided from the
// kube-system pods and the context name.

export type Enforcement = 'enforced' | 'not-enforced' | 'unknown';

export interface NetpolVerdict {
  enforcement: Enforcement;
  why: string;
}

interface SystemPod {
  metadata: { name: string };
  spec?: { containers?: { image?: string }[] };
}

const ENFORCING = /^(calico|cilium|antrea|kube-router|weave-net|canal|kube-network-policies|netpol)/;
/** kind's kindnetd enforces NetworkPolicies since kind v0.24 (images tagged from mid 2024 on). */
const KINDNET_POLICY_SINCE = 20240723;

export function networkPolicySupport(pods: readonly SystemPod[], context: string): NetpolVerdict {
  const enforcer = pods.find((p) => ENFORCING.test(p.metadata.name));
  if (enforcer) return { enforcement: 'enforced', why: `${enforcer.metadata.name.replace(/-[a-z0-9]{5}$/, '')} enforces them` };
  const kindnet = pods.find((p) => p.metadata.name.startsWith('kindnet'));
  if (kindnet) {
    const image = kindnet.spec?.containers?.[0]?.image ?? '';
    const date = Number(/:v(\d{8})/.exec(image)?.[1] ?? 0);
    if (date >= KINDNET_POLICY_SINCE) return { enforcement: 'enforced', why: `kindnet (${image}) enforces them` };
    if (date > 0) return { enforcement: 'not-enforced', why: `this kind's kindnet (${image}) predates NetworkPolicy support (kind v0.24)` };
    return { enforcement: 'unknown', why: `kindnet (${image || 'unknown image'}) enforces them only from kind v0.24 on` };
  }
  if (pods.some((p) => p.metadata.name.startsWith('kube-flannel') || p.metadata.name.startsWith('flannel')))
    return { enforcement: 'not-enforced', why: 'flannel alone does not enforce them' };
  if (context === 'docker-desktop' || context === 'docker-for-desktop')
    return { enforcement: 'not-enforced', why: "Docker Desktop's network does not enforce them" };
  if (context === 'minikube')
    return { enforcement: 'not-enforced', why: "minikube's default network does not enforce them (minikube start --cni=calico does)" };
  return { enforcement: 'unknown', why: 'no known NetworkPolicy implementation found in kube-system' };
}
