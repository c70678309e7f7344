import { liminalProject } from '../../vitest.shared.js';

export default liminalProject('@liminal/cli');
