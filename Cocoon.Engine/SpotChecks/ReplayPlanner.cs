using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Cocoon.Engine.SpotChecks;

/// <summary>
/// Which jobs are replayed on a second worker. The choice is HMAC-SHA256(gateway secret, request id) read as a number
/// in [0, 1) below the fraction: every gateway holding the secret makes the same choice for a request (so a retry or a
/// second gateway does not re-roll it), and a worker, which never holds the secret, cannot tell a replayed job from
/// another one, before or after it runs. The secret is shared by the gateways and kept like a signing key.
/// </summary>
public sealed class ReplayPlanner
{
    public const double DefaultFraction = 0.02;

    private readonly byte[] _secret;

    public ReplayPlanner(ReadOnlySpan<byte> secret, double fraction = DefaultFraction)
    {
        if (secret.Length < 32)
        {
            throw new ArgumentException("the replay secret needs at least 32 bytes (256 bits) so workers cannot guess it", nameof(secret));
        }

        if (!(fraction is >= 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "the replay fraction is between 0 and 1 (0.02 = 2% of jobs)");
        }

        _secret = secret.ToArray();
        Fraction = fraction;
    }

    public double Fraction { get; }

    public bool ShouldReplay(string requestId) => Draw(requestId) < Fraction;

    /// <summary>Whether to check this request of a worker that has done <paramref name="workerJobs"/> jobs: harder while it is new (<see cref="NewcomerChecks"/>).</summary>
    public bool ShouldReplay(string requestId, long workerJobs, NewcomerChecks newcomers)
    {
        ArgumentNullException.ThrowIfNull(newcomers);
        return Draw(requestId) < newcomers.FractionFor(workerJobs, Fraction);
    }

    /// <summary>The request's uniform draw in [0, 1); exposed so tests can check the distribution.</summary>
    public double Draw(string requestId)
    {
        ArgumentNullException.ThrowIfNull(requestId);
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(_secret, Encoding.UTF8.GetBytes("cocoon-replay\0" + requestId), mac);
        return (BinaryPrimitives.ReadUInt64BigEndian(mac) >> 11) * (1.0 / (1UL << 53));
    }
}
