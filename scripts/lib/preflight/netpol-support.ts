// Does this cluster enforce NetworkPolicies? A CNI that does not ignores them silently, so preflight says so rather
// than let the user believe the database is fenced off. Decided from kube-system's pods, the nodes' k3s annotation
// and the context name.

export type Enforcement = 'enforced' | 'not-enforced' | 'unknown';

export interface NetpolVerdict {
  enforcement: Enforcement;
  why: string;
}

interface SystemPod {
  metadata: { name: string };
  spec?: { containers?: { image?: string }[] };
}

interface NodeMeta {
  metadata: { name: string; annotations?: Record<string, string> };
}

/**
 * k3s (and k3d, which runs k3s in containers) enforces NetworkPolicies without any pod to find: the k3s agent runs
 * kube-router's policy controller in its own process unless started with --disable-network-policy (k3s-io/k3s
 * pkg/agent/run.go: `if !nodeConfig.AgentConfig.DisableNPC { netpol.Run(...) }`, pkg/agent/netpol/netpol.go). k3s
 * records the arguments it was started with, its config file's included, on each node in this annotation.
 */
const K3S_NODE_ARGS = 'k3s.io/node-args';

function k3sArgs(nodes: readonly NodeMeta[]): string[] | undefined {
  const raw = nodes.map((n) => n.metadata.annotations?.[K3S_NODE_ARGS]).find((a) => a !== undefined);
  if (raw === undefined) return undefined;
  try {
    const args: unknown = JSON.parse(raw);
    return Array.isArray(args) ? args.map(String) : [];
  } catch {
    return [];
  }
}

const ENFORCING = /^(calico|cilium|antrea|kube-router|weave-net|canal|kube-network-policies|netpol)/;
/** kind's kindnetd enforces NetworkPolicies since kind v0.24 (images tagged from mid 2024 on). */
const KINDNET_POLICY_SINCE = 20240723;

export function networkPolicySupport(pods: readonly SystemPod[], context: string, nodes: readonly NodeMeta[] = []): NetpolVerdict {
  const enforcer = pods.find((p) => ENFORCING.test(p.metadata.name));
  if (enforcer) return { enforcement: 'enforced', why: `${enforcer.metadata.name.replace(/-[a-z0-9]{5}$/, '')} enforces them` };
  const k3s = k3sArgs(nodes);
  if (k3s) {
    if (k3s.some((a) => a === '--disable-network-policy' || a === '--disable-network-policy=true'))
      return { enforcement: 'not-enforced', why: 'k3s runs with --disable-network-policy and no other enforcer is in kube-system' };
    return { enforcement: 'enforced', why: "k3s's built-in network policy controller (kube-router's, inside the k3s process) enforces them" };
  }
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
