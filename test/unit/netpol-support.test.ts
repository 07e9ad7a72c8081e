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
});
