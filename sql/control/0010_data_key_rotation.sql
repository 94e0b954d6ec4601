-- Data-key rotation and seal budgets.
--
-- AES-256-GCM with random 96-bit nonces is safe for about 2^32 seals
-- under one key. An owner and purpose may now have several generations
-- of data key: exactly one current (superseded_at IS NULL), which seals,
-- and older ones that only open what they sealed (a sealed record names
-- its data key id). `accupredix-admin vault rotate --data-keys` makes a
-- new generation and re-seals what the old ones sealed; an old key that
-- nothing known refers to any more gets retired_at, and is still kept
-- (a backup may hold a value it sealed).
--
-- seals counts seals reserved with the key: workers reserve blocks of
-- them before they seal (an over-count, never an under-count), so the
-- count costs no write per seal. mac marks a key used for HMAC (blind
-- indexes): no nonce, no budget, never rotated with the others.

ALTER TABLE vault_data_keys DROP CONSTRAINT vault_data_keys_owner_purpose_key;
ALTER TABLE vault_data_keys
    ADD COLUMN generation integer NOT NULL DEFAULT 1 CHECK (generation >= 1),
    ADD COLUMN mac boolean NOT NULL DEFAULT false,
    ADD COLUMN seals bigint NOT NULL DEFAULT 0 CHECK (seals >= 0),
    ADD COLUMN superseded_at timestamptz,
    ADD COLUMN retired_at timestamptz,
    ADD CONSTRAINT vault_data_keys_retired CHECK (retired_at IS NULL OR
        superseded_at IS NOT NULL);
CREATE UNIQUE INDEX vault_data_keys_current ON vault_data_keys (owner, purpose)
    WHERE superseded_at IS NULL;
CREATE UNIQUE INDEX vault_data_keys_generation ON vault_data_keys
    (owner, purpose, generation);

-- The one HMAC purpose so far.
UPDATE vault_data_keys SET mac = true WHERE purpose = 'pii_index';
