using System.Security.Cryptography;
using Cocoon.Engine.Protocol;

namespace Cocoon.Engine.Crypto;

/// <summary>
/// Authenticates a job's control messages: the worker's refusals (error results) and the gateway's cancels. The key
/// is exported from the job's HPKE context (<c>Export("cocoon control v1", 32)</c>), so only the gateway that sealed
/// the job and the worker that opened it know it; anyone else who can write to Redis can no longer end a request
/// with a made-up error, or stop a job with a made-up cancel. Each MAC is HMAC-SHA256 over a length-prefixed
/// encoding of the message's kind and every field it acts on, so a MAC for one message never fits another.
/// </summary>
public sealed class JobControlKey : IDisposable
{
    public const int MacSize = 32;

    private static ReadOnlySpan<byte> ExportLabel => "cocoon control v1"u8;

    private static ReadOnlySpan<byte> ErrorLabel => "cocoon/control/error/v1"u8;

    private static ReadOnlySpan<byte> CancelLabel => "cocoon/control/cancel/v1"u8;

    private static ReadOnlySpan<byte> StopLabel => "cocoon/control/stop/v1"u8;

    private readonly byte[] _key;
    private bool _disposed;

    private JobControlKey(byte[] key)
    {
        _key = GC.AllocateArray<byte>(key.Length, pinned: true);
        key.CopyTo(_key, 0);
        CryptographicOperations.ZeroMemory(key);
    }

    public static JobControlKey Create(HpkeContext jobContext)
    {
        ArgumentNullException.ThrowIfNull(jobContext);
        return new JobControlKey(jobContext.Export(ExportLabel, 32));
    }

    /// <summary>The worker's MAC over a refusal of (request, attempt) with a reason code.</summary>
    public byte[] Error(string requestId, int attempt, string workerId, string reason)
    {
        var writer = new BindingWriter(ErrorLabel);
        writer.String(requestId);
        writer.Int32(attempt);
        writer.String(workerId);
        writer.String(reason);
        return Mac(writer.ToArray());
    }

    public bool VerifyError(string requestId, int attempt, string workerId, string? reason, byte[]? mac) =>
        reason is not null && Verify(Error(requestId, attempt, workerId, reason), mac);

    /// <summary>The gateway's MAC over "stop (request, attempt) on this worker".</summary>
    public byte[] Cancel(string requestId, int attempt, string workerId)
    {
        var writer = new BindingWriter(CancelLabel);
        writer.String(requestId);
        writer.Int32(attempt);
        writer.String(workerId);
        return Mac(writer.ToArray());
    }

    public bool VerifyCancel(string requestId, int attempt, string workerId, byte[]? mac) =>
        Verify(Cancel(requestId, attempt, workerId), mac);

    /// <summary>
    /// The gateway's MAC over "stop (request, attempt) on this worker after I took this many chunks": the worker signs
    /// a receipt for exactly those chunks, so the count is authenticated like the rest.
    /// </summary>
    public byte[] Stop(string requestId, int attempt, string workerId, long chunksTaken)
    {
        var writer = new BindingWriter(StopLabel);
        writer.String(requestId);
        writer.Int32(attempt);
        writer.String(workerId);
        writer.Int64(chunksTaken);
        return Mac(writer.ToArray());
    }

    public bool VerifyStop(string requestId, int attempt, string workerId, long chunksTaken, byte[]? mac) =>
        Verify(Stop(requestId, attempt, workerId, chunksTaken), mac);

    private byte[] Mac(byte[] message)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return HMACSHA256.HashData(_key, message);
    }

    private static bool Verify(byte[] expected, byte[]? mac) =>
        mac is { Length: MacSize } && CryptographicOperations.FixedTimeEquals(expected, mac);

    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            CryptographicOperations.ZeroMemory(_key);
        }
    }
}
