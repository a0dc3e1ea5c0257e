#!/usr/bin/env node
import '../dist/cli/dpk.js';
