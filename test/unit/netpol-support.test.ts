import { describe, expect, it } from 'vitest';
import { networkPolicySupport } from '../../scripts/lib/preflight/netpol-support.js';

const pod = (name: string, image = '') => ({ metadata: { name }, spec: { containers: [{ image }] } });

describe('NetworkPolicy enforcement detection', () => {
  it.each([
    [[pod('calico-node-abcde')], 'minikube', 'enforced'],
    [[pod('cilium-x7k2p'), pod('coredns-1')], 'kind-kind', 'enforced'],
    [[pod('kindnet-abcde', 'docker.io/kindest/kindnetd:v20250214-acbabc1a')], 'kind-kind', 'enforced'],
    [[pod('kindnet-abcde', 'docker.io/kindest/kindnetd:v20230511-dc714da8')], 'kind-kind', 'not-enforced'],
    [[pod('kindnet-abcde', 'custom/kindnet:latest')], 'kind-kind', 'unknown'],
    [[pod('kube-flannel-ds-1')], 'k3d-dev', 'not-enforced'],
    [[pod('coredns-1'), pod('storage-provisioner')], 'minikube', 'not-enforced'],
    [[pod('coredns-1')], 'docker-desktop', 'not-enforced'],
    [[pod('coredns-1')], 'my-cluster', 'unknown'],
  ] as const)('%j on %s: %s', (pods, context, enforcement) => {
    expect(networkPolicySupport(pods, context).enforcement).toBe(enforcement);
  });

  // k3d's kube-system: CoreDNS, local-path-provisioner, metrics-server, traefik; the policy controller runs inside k3s.
  const k3dPods = [pod('coredns-ccb96694c-x'), pod('local-path-provisioner-5cf85fd84d-y'), pod('metrics-server-5985cbc9d7-z')];
  const k3sNode = (args: string[]) => ({ metadata: { name: 'k3d-dev-server-0', annotations: { 'k3s.io/node-args': JSON.stringify(args) } } });
  it.each([
    [['server', '--tls-san', '0.0.0.0'], 'enforced'],
    [['server', '--disable-network-policy'], 'not-enforced'],
    [['server', '--flannel-backend', 'none'], 'enforced'],
  ] as const)('k3d/k3s with the node args %j: %s (no kube-system pod to find)', (args, enforcement) => {
    expect(networkPolicySupport(k3dPods, 'k3d-dev', [k3sNode([...args])]).enforcement).toBe(enforcement);
    expect(networkPolicySupport(k3dPods, 'k3d-dev').enforcement).toBe('unknown');
  });

  it('k3s with --disable-network-policy and Calico: Calico enforces them', () => {
    expect(networkPolicySupport([pod('calico-node-abcde')], 'default', [k3sNode(['server', '--disable-network-policy'])]).enforcement).toBe('enforced');
  });
});
