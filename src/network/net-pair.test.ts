import { netBackendConformance } from '../../tests/network/conformance.js';
import { createNetPair } from './net-pair.js';

netBackendConformance('in-memory pair', async () => {
  const [a, b] = createNetPair();
  return { a, b };
});
