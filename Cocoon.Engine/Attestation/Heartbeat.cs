using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Cocoon.Engine.Protocol;
using NSec.Cryptography;

namespace Cocoon.Engine.Attestation;

/// <summary>
/// A worker's liveness and load announcement, signed with the Ed25519 key of its attestation: the signature covers a
/// domain, the worker id (length-prefixed) and the load's exact JSON bytes as stored, so a load written by anyone else
/// with Redis access, or copied from another worker, does not verify.
/// </summary>
public static class Heartbeat
{
    private static ReadOnlySpan<byte> Domain => "cocoon heartbeat v1\0"u8;

    public static byte[] Message(string workerId, ReadOnlySpan<byte> loadJson)
    {
        ArgumentException.ThrowIfNullOrEmpty(workerId);
        var id = Encoding.UTF8.GetBytes(workerId);
        var message = new byte[Domain.Length + 4 + id.Length + loadJson.Length];
        Domain.CopyTo(message);
        BinaryPrimitives.WriteInt32BigEndian(message.AsSpan(Domain.Length), id.Length);
        id.CopyTo(message, Domain.Length + 4);
        loadJson.CopyTo(message.AsSpan(Domain.Length + 4 + id.Length));
        return message;
    }

    public static byte[] Sign(WorkerIdentity identity, ReadOnlySpan<byte> loadJson)
    {
        ArgumentNullException.ThrowIfNull(identity);
        return identity.Sign(Message(identity.WorkerId, loadJson));
    }

    public static bool Verify(ReadOnlySpan<byte> signingPublicKey, string workerId, ReadOnlySpan<byte> loadJson, ReadOnlySpan<byte> signature) =>
        signature.Length == 64
        && PublicKey.TryImport(SignatureAlgorithm.Ed25519, signingPublicKey, KeyBlobFormat.RawPublicKey, out var key) && key is not null
        && SignatureAlgorithm.Ed25519.Verify(key, Message(workerId, loadJson), signature);
}

/// <summary>Why a heartbeat was not believed; None when it was.</summary>
public enum HeartbeatRefusal
{
    None,
    NoSignature,
    BadSignature,
    Malformed,
    Stale,
    Replayed,
}

/// <summary>
/// The gateway's check of a heartbeat: signed by the worker's attested key, its signed time no older than maxAge (and
/// no further ahead, for clock skew), and never older than a heartbeat already accepted from the same worker and key,
/// so an old entry written back (a replay) does not bring back a dead worker or an old load. Reading the same heartbeat
/// again is not a replay. Holds the last accepted time per worker and key in memory.
/// </summary>
public sealed class HeartbeatCheck(TimeSpan maxAge)
{
    private readonly ConcurrentDictionary<(string WorkerId, string Key), DateTimeOffset> _lastAccepted = new();

    public TimeSpan MaxAge { get; } = maxAge;

    public (HeartbeatRefusal Refusal, WorkerLoad? Load) Check(
        string workerId, ReadOnlySpan<byte> signingPublicKey, ReadOnlySpan<byte> loadJson, ReadOnlySpan<byte> signature, DateTimeOffset now)
    {
        if (signature.IsEmpty)
        {
            return (HeartbeatRefusal.NoSignature, null);
        }

        if (!Heartbeat.Verify(signingPublicKey, workerId, loadJson, signature))
        {
            return (HeartbeatRefusal.BadSignature, null);
        }

        WorkerLoad? load;
        try
        {
            load = JsonSerializer.Deserialize(loadJson, WireJsonContext.Default.WorkerLoad);
        }
        catch (JsonException)
        {
            return (HeartbeatRefusal.Malformed, null);
        }

        if (load is null)
        {
            return (HeartbeatRefusal.Malformed, null);
        }

        if (load.At < now - MaxAge || load.At > now + MaxAge)
        {
            return (HeartbeatRefusal.Stale, null);
        }

        var slot = (workerId, Convert.ToHexStringLower(signingPublicKey));
        while (true)
        {
            if (_lastAccepted.TryGetValue(slot, out var last))
            {
                if (load.At < last)
                {
                    return (HeartbeatRefusal.Replayed, null);
                }

                if (load.At == last || _lastAccepted.TryUpdate(slot, load.At, last))
                {
                    return (HeartbeatRefusal.None, load);
                }
            }
            else if (_lastAccepted.TryAdd(slot, load.At))
            {
                return (HeartbeatRefusal.None, load);
            }
        }
    }

    /// <summary>Forgets workers that are gone (their registry entries expired).</summary>
    public void Forget(Func<string, bool> gone)
    {
        ArgumentNullException.ThrowIfNull(gone);
        foreach (var slot in _lastAccepted.Keys)
        {
            if (gone(slot.WorkerId))
            {
                _lastAccepted.TryRemove(slot, out _);
            }
        }
    }
}
