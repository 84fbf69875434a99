export { TestFinisher, type FinisherActions, type TestFinisherState } from './test-finisher.js';
