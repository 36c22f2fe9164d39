namespace Broker.Node;

/// <summary>
/// The tables, functions and triggers PostgresFence relies on, installed by every node at start
/// (idempotent, under a transaction lock so nodes starting together do not race).
/// - broker_nodes: one row per node incarnation with its lease; its advisory lock is
///   (NodeLockSpace, id), held by the incarnation's fence session while the process lives.
/// - broker_owners: which incarnation owns each durable queue's journal (null: released), and the
///   epoch of that claim (a release names it, so a late release never undoes a later claim).
/// - broker_fence_write: a row trigger on the journal and snapshot tables that refuses a queue's
///   rows from any session but its owner's. Writers hold a shared transaction lock keyed by their
///   incarnation, so a claim (which takes that key exclusively) waits for writes in flight.
/// - broker_claim: takes a queue over in one round trip (see INodeFence.ClaimAsync).
/// </summary>
internal static class PostgresFenceSchema
{
    /// <summary>Advisory lock space of node incarnation locks (classid in pg_locks).</summary>
    public const int NodeLockSpace = 0x42524B01;

    /// <summary>Advisory lock space of the journal write locks (keyed by hashtext(incarnation)).</summary>
    public const int WriteLockSpace = 0x42524B02;

    /// <summary>Held while the schema is installed.</summary>
    public const int InstallLockSpace = 0x42524B03;

    public static readonly string Install = $$"""
        SELECT pg_advisory_xact_lock({{InstallLockSpace}}, 0);

        CREATE TABLE IF NOT EXISTS broker_nodes (
          id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          incarnation text NOT NULL UNIQUE,
          node_name text NOT NULL,
          address text,
          uid bigint,
          lease_until timestamptz NOT NULL,
          renewed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
          fenced boolean NOT NULL DEFAULT false);

        CREATE TABLE IF NOT EXISTS broker_owners (
          persistence_id text PRIMARY KEY,
          incarnation text,
          epoch bigint NOT NULL DEFAULT 0);

        CREATE OR REPLACE FUNCTION broker_node_alive(node_id integer) RETURNS boolean LANGUAGE sql STABLE AS $f$
          SELECT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted
                         AND l.classid = {{NodeLockSpace}}::oid AND l.objid = node_id::oid AND l.objsubid = 2)
        $f$;

        CREATE OR REPLACE FUNCTION broker_fence_write() RETURNS trigger LANGUAGE plpgsql AS $f$
        DECLARE
          pid text;
          writer text := current_setting('application_name');
          owner text;
        BEGIN
          IF TG_OP = 'DELETE' THEN pid := OLD.persistence_id; ELSE pid := NEW.persistence_id; END IF;
          -- Sessions of nodes without the fence (broker.cluster.fence = off: every node of a cluster
          -- must then have it off) are not checked; a fenced node's always carry its incarnation.
          IF pid LIKE 'queue-%' AND writer LIKE 'broker-%' THEN
            PERFORM pg_advisory_xact_lock_shared({{WriteLockSpace}}, hashtext(writer));
            SELECT o.incarnation INTO owner FROM broker_owners o WHERE o.persistence_id = pid;
            IF FOUND AND owner IS DISTINCT FROM writer THEN
              RAISE EXCEPTION 'journal write for % refused: it belongs to %, not to this node (%)', pid, coalesce(owner, 'no node'), writer
                USING ERRCODE = 'P0001';
            END IF;
          END IF;
          IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
          RETURN NEW;
        END
        $f$;

        -- Created once: creating a trigger locks its table against every write, and waits behind any
        -- open write transaction (a frozen node's, say). Replacing the function above needs no lock.
        DO $d$
        DECLARE t text;
        BEGIN
          FOREACH t IN ARRAY ARRAY['journal', 'snapshot'] LOOP
            IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'broker_fence' AND tgrelid = t::regclass) THEN
              EXECUTE format('CREATE TRIGGER broker_fence BEFORE INSERT OR UPDATE OR DELETE ON %I FOR EACH ROW EXECUTE FUNCTION broker_fence_write()', t);
            END IF;
          END LOOP;
        END
        $d$;

        CREATE OR REPLACE FUNCTION broker_claim(p_pid text, p_me text, OUT wait_ms integer, OUT highest bigint, OUT previous text,
          OUT claimed_epoch bigint)
        LANGUAGE plpgsql AS $f$
        DECLARE
          prev_id integer;
          prev_lease timestamptz;
          prev_renewed timestamptz;
        BEGIN
          wait_ms := 0;
          IF EXISTS (SELECT 1 FROM broker_nodes WHERE incarnation = p_me AND fenced) THEN
            RAISE EXCEPTION 'node % is fenced: it may not take over %', p_me, p_pid USING ERRCODE = 'P0001';
          END IF;
          INSERT INTO broker_owners (persistence_id, incarnation) VALUES (p_pid, NULL) ON CONFLICT (persistence_id) DO NOTHING;
          SELECT o.incarnation INTO previous FROM broker_owners o WHERE o.persistence_id = p_pid FOR UPDATE;
          IF previous IS NOT NULL AND previous <> p_me THEN
            -- Not released: its node died or was cut off from the cluster. It renews no more...
            UPDATE broker_nodes SET fenced = true WHERE incarnation = previous RETURNING id, lease_until, renewed_at
              INTO prev_id, prev_lease, prev_renewed;
            -- ...but while it lives its lease may still run: wait that out. A free lock shows it is
            -- gone, unless the lock went with a restart of this server since its last renewal.
            IF prev_id IS NOT NULL AND prev_lease > clock_timestamp()
               AND (broker_node_alive(prev_id) OR prev_renewed < pg_postmaster_start_time()) THEN
              wait_ms := ceil(extract(epoch FROM prev_lease - clock_timestamp()) * 1000)::integer + 1;
              RETURN;
            END IF;
            -- Transactions it left open (a frozen process) are rolled back, then its writes in flight are waited for.
            BEGIN
              PERFORM pg_terminate_backend(a.pid, 2000) FROM pg_stat_activity a WHERE a.application_name = previous AND a.pid <> pg_backend_pid();
            EXCEPTION WHEN insufficient_privilege THEN
              NULL; -- another database role: its open transactions then hold the claim up to lock_timeout
            END;
            SET LOCAL lock_timeout = '5s';
            PERFORM pg_advisory_xact_lock({{WriteLockSpace}}, hashtext(previous));
          END IF;
          UPDATE broker_owners SET incarnation = p_me, epoch = epoch + 1 WHERE persistence_id = p_pid RETURNING epoch INTO claimed_epoch;
          SELECT coalesce(max(j.sequence_number), 0) INTO highest FROM journal j WHERE j.persistence_id = p_pid;
        END
        $f$;
        """;
}
