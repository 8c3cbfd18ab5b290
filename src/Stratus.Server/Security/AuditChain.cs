using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Stratus.Server.Storage;

namespace Stratus.Server.Security;

/// <summary>
/// The audit log as a hash chain: each row carries the hash of the row before it and a SHA-256 of its own contents
/// with that hash, so that changing or removing a row (through the database itself, past the append-only triggers)
/// breaks the chain at that row. <see cref="StratusDb"/> links every new row as it is saved, under a lock that makes
/// writers take turns at the chain's end; <see cref="VerifyAsync"/> checks the whole chain. Rows written before the
/// chain existed carry no hash and are counted apart.
/// </summary>
public static class AuditChain
{
    /// <summary>Links <paramref name="row"/> after the row whose hash is <paramref name="previous"/>; returns its own hash.</summary>
    internal static string Link(AuditRow row, string? previous)
    {
        // The time as the database keeps it (to the millisecond), so that the row hashes the same when read back.
        row.Time = DateTimeOffset.FromUnixTimeMilliseconds(row.Time.ToUnixTimeMilliseconds());
        row.PrevHash = previous;
        row.Hash = Compute(row);
        return row.Hash;
    }

    /// <summary>The row's hash: SHA-256 over its previous hash and every field, each written with its length (no two rows' fields read alike).</summary>
    internal static string Compute(AuditRow row)
    {
        var text = new StringBuilder("stratus-audit-1");
        foreach (var field in new[] { row.PrevHash, row.Time.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture), row.Actor, row.Role, row.Method,
                     row.Path, row.Status.ToString(CultureInfo.InvariantCulture), row.Outcome, row.RemoteAddress, row.Detail })
        {
            text.Append('|').Append(field is null ? "-" : $"{field.Length}:{field}");
        }
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>Checks every row in order: each follows the one before it, and its contents still match its hash.</summary>
    public static async Task<AuditVerification> VerifyAsync(StratusDb db, CancellationToken ct)
    {
        long rows = 0, unchained = 0;
        string? previous = null;
        var lastId = 0L;
        while (true)
        {
            var batch = await db.Audit.AsNoTracking().Where(a => a.Id > lastId).OrderBy(a => a.Id).Take(5_000).ToListAsync(ct);
            if (batch.Count == 0) break;
            foreach (var row in batch)
            {
                rows++;
                if (row.Hash is null)
                {
                    if (previous is not null) return Broken(row.Id, "it has no hash, yet rows before it are chained: it was written past the chain");
                    unchained++;
                    continue;
                }
                if (row.PrevHash != previous)
                    return Broken(row.Id, "it does not follow the row before it: a row before it was removed, or changed with its hash");
                if (Compute(row) != row.Hash) return Broken(row.Id, "its contents no longer match its hash: it was changed after it was written");
                previous = row.Hash;
            }
            lastId = batch[^1].Id;
        }
        return new AuditVerification(true, rows, unchained, previous, null, null);

        AuditVerification Broken(long id, string reason) => new(false, rows, unchained, previous, id, reason);
    }
}
