using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Stratus.Server.Kernel;

namespace Stratus.Server.Storage;

/// <summary>One blob's data key, wrapped by a key-encryption key (<see cref="KeyRing"/>).</summary>
public sealed class DataKeyRow
{
    public required string Sha256 { get; set; }
    public required string KeyId { get; set; }
    public required byte[] Wrapped { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>A key-encryption key the database has data keys under: its id and fingerprint, never the key.</summary>
public sealed class KeyEncryptionKeyRow
{
    public required string Id { get; set; }
    public required string Fingerprint { get; set; }
    public DateTimeOffset AddedAt { get; set; }

    /// <summary>When rotation left no data key under it (it may then leave every node's key ring).</summary>
    public DateTimeOffset? RetiredAt { get; set; }
}

internal sealed class DataKeyRowConfiguration : IEntityTypeConfiguration<DataKeyRow>, IEntityTypeConfiguration<KeyEncryptionKeyRow>
{
    public void Configure(Microsoft.EntityFrameworkCore.Metadata.Builders.EntityTypeBuilder<DataKeyRow> b)
    {
        b.ToTable("data_keys");
        b.HasKey(x => x.Sha256);
        b.Property(x => x.Sha256).HasMaxLength(64);
        b.Property(x => x.KeyId).HasMaxLength(32);
        b.HasIndex(x => x.KeyId);
    }

    public void Configure(Microsoft.EntityFrameworkCore.Metadata.Builders.EntityTypeBuilder<KeyEncryptionKeyRow> b)
    {
        b.ToTable("key_encryption_keys");
        b.HasKey(x => x.Id);
        b.Property(x => x.Id).HasMaxLength(32);
        b.Property(x => x.Fingerprint).HasMaxLength(64);
    }
}

/// <summary>What the blob stores ask of encryption at rest: the data key of a blob.</summary>
public interface IDataKeys
{
    /// <summary>Whether new blobs are encrypted (<see cref="StorageSettings.EncryptAtRest"/>).</summary>
    bool Encrypting { get; }

    /// <summary>
    /// The data key blob <paramref name="sha256"/> is sealed under: <paramref name="proposed"/>, recorded now, unless
    /// another writer of the same bytes recorded its own first (the caller then seals again under that one).
    /// </summary>
    Task<byte[]> ClaimAsync(string sha256, byte[] proposed, CancellationToken ct);

    /// <summary>A blob's data key; null for a blob stored in plaintext (written with encryption off, or before it existed).</summary>
    Task<byte[]?> FindAsync(string sha256, CancellationToken ct);
}

/// <summary>
/// Data keys in the metadata database, wrapped by the <see cref="KeyRing"/>: the database every node shares holds who
/// may read what, the key ring holds the means, and neither alone opens a blob. Unwrapped keys are kept in memory
/// (a model's blob is opened once at load, a dataset's once per job).
/// </summary>
public sealed class DataKeys(IServiceScopeFactory scopes, KeyRing ring, StorageSettings settings, TimeProvider clock) : IDataKeys
{
    private const int CacheEntries = 100_000;
    private readonly ConcurrentDictionary<string, byte[]> _unwrapped = new(StringComparer.Ordinal);

    public bool Encrypting => settings.EncryptAtRest;

    public async Task<byte[]> ClaimAsync(string sha256, byte[] proposed, CancellationToken ct)
    {
        if (await FindAsync(sha256, ct) is { } known) return known;
        var (keyId, wrapped) = await ring.WrapAsync(sha256, proposed, ct);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<StratusDb>();
        db.DataKeys.Add(new DataKeyRow { Sha256 = sha256, KeyId = keyId, Wrapped = wrapped, CreatedAt = clock.GetUtcNow() });
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            // Another writer of the same bytes recorded its key first: that one is the blob's.
            _unwrapped.TryRemove(sha256, out _);
            return await FindAsync(sha256, ct) ?? throw new InvalidOperationException($"the data key of blob {sha256} could not be recorded");
        }
        Remember(sha256, proposed);
        return proposed;
    }

    public async Task<byte[]?> FindAsync(string sha256, CancellationToken ct)
    {
        if (_unwrapped.TryGetValue(sha256, out var key)) return key;
        await using var scope = scopes.CreateAsyncScope();
        var row = await scope.ServiceProvider.GetRequiredService<StratusDb>().DataKeys.AsNoTracking().FirstOrDefaultAsync(k => k.Sha256 == sha256, ct);
        if (row is null) return null;
        key = await ring.UnwrapAsync(sha256, row.KeyId, row.Wrapped, ct);
        Remember(sha256, key);
        return key;
    }

    private void Remember(string sha256, byte[] key)
    {
        if (_unwrapped.Count >= CacheEntries) _unwrapped.Clear();
        _unwrapped[sha256] = key;
    }

    /// <summary>
    /// At a node's start: the key ring must hold every key-encryption key the database has data keys under, each the
    /// very key (by fingerprint), or the node refuses to start rather than write what it could not read back. A first
    /// start (no keys anywhere) makes the key file; the active key is recorded.
    /// </summary>
    public async Task CheckAsync(StratusDb db, CancellationToken ct)
    {
        var recorded = await RecordedAsync(db, ct);
        if (ring.Ids.Count == 0)
        {
            // Another node sharing the key file may have made it since this node read it (nodes started at once).
            if (recorded.Count > 0 && !ring.Reload(recorded[0].Id))
                throw new StartupException($"this node has no key-encryption key, and blobs are encrypted under key {string.Join(", ", recorded.Select(k => k.Id))}: " +
                    $"give every node the same keys (copy the key file of the node that made them to {ring.KeyFile}, or set Stratus:KeyFile or STRATUS_MASTERKEY); nothing was changed");
            if (ring.Ids.Count == 0) ring.Generate();
        }
        await VerifyAsync(recorded, ct);
        var added = await RecordAsync(db, ring.ActiveId, ct);
        // Nodes that started at once on an empty database, each with a key of its own: the later ones see the first's.
        try
        {
            await VerifyAsync(await RecordedAsync(db, ct), ct);
        }
        catch (StartupException) when (added)
        {
            await db.KeyEncryptionKeys.Where(k => k.Id == ring.ActiveId && !db.DataKeys.Any(d => d.KeyId == k.Id)).ExecuteDeleteAsync(ct);
            throw;
        }
    }

    private static Task<List<KeyEncryptionKeyRow>> RecordedAsync(StratusDb db, CancellationToken ct) =>
        db.KeyEncryptionKeys.AsNoTracking().Where(k => k.RetiredAt == null).ToListAsync(ct);

    /// <summary>Refuses a start on a ring without every key in use, or with a wrong key of the right name.</summary>
    private async Task VerifyAsync(IEnumerable<KeyEncryptionKeyRow> recorded, CancellationToken ct)
    {
        foreach (var key in recorded)
        {
            if (!ring.Has(key.Id))
                throw new StartupException($"blobs are encrypted under key-encryption key {key.Id}, which is not among this node's keys ({ring.Source}): " +
                    "give every node the same keys (Stratus:KeyFile, STRATUS_MASTERKEY or Stratus:KmsKeys); nothing was changed");
            if (await ring.FingerprintAsync(key.Id, ct) != key.Fingerprint)
                throw new StartupException($"key-encryption key {key.Id} of {ring.Source} is not the key the blobs were encrypted under (its fingerprint differs): " +
                    "restore the right key; nothing was changed");
        }
    }

    /// <summary>
    /// Rotation: a new active key (added to this node's key file; with <c>STRATUS_MASTERKEY</c> or KMS keys, the last key the
    /// operator listed), every data key re-wrapped under it, and earlier keys retired (and left out of the key file).
    /// The blobs themselves are not rewritten.
    /// </summary>
    public async Task<KeyRotation> RotateAsync(StratusDb db, CancellationToken ct)
    {
        var active = ring.KeyFile is not null ? ring.AddKey() : ring.ActiveId;
        await RecordAsync(db, active, ct);
        var rewrapped = 0;
        while (true)
        {
            var batch = await db.DataKeys.Where(k => k.KeyId != active).OrderBy(k => k.Sha256).Take(500).ToListAsync(ct);
            if (batch.Count == 0) break;
            foreach (var row in batch)
            {
                var key = await ring.UnwrapAsync(row.Sha256, row.KeyId, row.Wrapped, ct);
                (row.KeyId, row.Wrapped) = await ring.WrapAsync(row.Sha256, key, ct);
                CryptographicOperations.ZeroMemory(key);
            }
            await db.SaveChangesAsync(ct);
            db.ChangeTracker.Clear();
            rewrapped += batch.Count;
        }
        // Retired: the earlier keys that no data key needs now. A node that had not yet read the new key file may have
        // wrapped a key under an earlier one meanwhile: that key stays until the next rotation.
        var now = clock.GetUtcNow();
        var retired = await db.KeyEncryptionKeys.Where(k => k.Id != active && k.RetiredAt == null && !db.DataKeys.Any(d => d.KeyId == k.Id)).ToListAsync(ct);
        foreach (var key in retired) key.RetiredAt = now;
        await db.SaveChangesAsync(ct);
        if (ring.KeyFile is not null) ring.Retire([.. retired.Select(k => k.Id)]);
        return new KeyRotation(active, rewrapped, [.. retired.Select(k => k.Id)], ring.Source);
    }

    /// <summary>The keys the database knows and how many data keys each wraps.</summary>
    public async Task<IReadOnlyList<KeyStatus>> ListAsync(StratusDb db, CancellationToken ct)
    {
        var counts = await db.DataKeys.GroupBy(k => k.KeyId).Select(g => new { g.Key, Count = g.Count() }).ToDictionaryAsync(g => g.Key, g => g.Count, ct);
        var rows = await db.KeyEncryptionKeys.AsNoTracking().OrderBy(k => k.AddedAt).ToListAsync(ct);
        return [.. rows.Select(k => new KeyStatus(k.Id, k.Id == ring.ActiveId, counts.GetValueOrDefault(k.Id), k.AddedAt, k.RetiredAt))];
    }

    /// <summary>Records a key the database's data keys may be wrapped under; whether this call added it.</summary>
    private async Task<bool> RecordAsync(StratusDb db, string id, CancellationToken ct)
    {
        if (await db.KeyEncryptionKeys.AnyAsync(k => k.Id == id, ct)) return false;
        db.KeyEncryptionKeys.Add(new KeyEncryptionKeyRow { Id = id, Fingerprint = await ring.FingerprintAsync(id, ct), AddedAt = clock.GetUtcNow() });
        try
        {
            await db.SaveChangesAsync(ct);
            return true;
        }
        catch (DbUpdateException)
        {
            db.ChangeTracker.Clear(); // another node recorded it at the same moment
            return false;
        }
    }
}
