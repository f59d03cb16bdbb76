import { z } from 'zod';

// The subset of Vault's response bodies we read (KV v2 and Transit API docs); extra fields pass.

export const kvReadSchema = z.object({
  data: z.object({
    data: z.record(z.string(), z.string()).nullable(),
    metadata: z.object({ version: z.number().int().positive() }),
  }),
});

export const kvWriteSchema = z.object({
  data: z.object({ version: z.number().int().positive() }),
});

export const kvMetadataSchema = z.object({
  data: z.object({
    current_version: z.number().int().nonnegative(),
    versions: z.record(
      z.string(),
      z.object({ created_time: z.string(), deletion_time: z.string(), destroyed: z.boolean() }),
    ),
  }),
});

export const transitKeySchema = z.object({
  data: z.object({
    name: z.string(),
    type: z.enum(['aes256-gcm96', 'ed25519']),
    latest_version: z.number().int().positive(),
    // Symmetric keys: version -> creation unix time; asymmetric: version -> public key entry.
    keys: z.record(z.string(), z.union([z.number(), z.object({ public_key: z.string(), creation_time: z.string() })])),
  }),
});

export const transitValueSchema = z.object({
  data: z.object({
    ciphertext: z.string().optional(),
    plaintext: z.string().optional(),
    signature: z.string().optional(),
    valid: z.boolean().optional(),
    key_version: z.number().optional(),
  }),
});
