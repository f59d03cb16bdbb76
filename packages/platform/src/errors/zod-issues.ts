import type { z } from 'zod';

export interface ValidationIssue {
  path: string;
  message: string;
  code: string;
}

const ISSUES_MAX = 20;

/** zod issues as plain data for a VALIDATION error's details (bounded: a huge bad payload stays a small error). */
export function validationIssuesOf(error: z.ZodError): ValidationIssue[] {
  return error.issues.slice(0, ISSUES_MAX).map((issue) => ({
    path: issue.path.map(String).join('.') || '(root)',
    message: issue.message,
    code: issue.code,
  }));
}
