using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Cocoon.Ledger.Ton;

/// <summary>What a TON Connect wallet returns for a <c>ton_proof</c> request (already decoded from its JSON).</summary>
public sealed record TonProofRequest(
    string Address,
    string Domain,
    long Timestamp,
    string Payload,
    string SignatureBase64,
    string WalletStateInitBase64,
    string? PublicKeyHex = null);

public sealed class TonProofOptions
{
    public const string Section = "Ton:Proof";

    /// <summary>Domains (the Mini App's host) a proof may be made for, e.g. "app.example.org".</summary>
    [MinLength(1, ErrorMessage = "Ton:Proof:AllowedDomains must list the Mini App's domain(s), e.g. Ton__Proof__AllowedDomains__0=app.example.org.")]
    public List<string> AllowedDomains { get; set; } = [];

    /// <summary>How old a proof may be.</summary>
    [Range(typeof(TimeSpan), "00:00:10", "1.00:00:00", ErrorMessage = "Ton:Proof:MaxAge must be between 10 seconds and 1 day.")]
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromMinutes(15);
}

/// <summary>A proof names the host it was made for, so an allowed domain is a host, never a URL.</summary>
public sealed class TonProofOptionsValidator : IValidateOptions<TonProofOptions>
{
    public ValidateOptionsResult Validate(string? name, TonProofOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        for (var i = 0; i < options.AllowedDomains.Count; i++)
        {
            var domain = options.AllowedDomains[i];
            // The host as a wallet reports it (a port is allowed: TON Connect takes the manifest URL's host).
            if (string.IsNullOrWhiteSpace(domain) || domain.Contains('/', StringComparison.Ordinal) || domain.Any(char.IsWhiteSpace))
            {
                failures.Add($"Ton:Proof:AllowedDomains:{i} is '{domain}': list the Mini App's host only, without scheme or path (e.g. Ton__Proof__AllowedDomains__{i}=app.example.org).");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

public sealed class TonProofException(string message) : Exception(message);

/// <summary>
/// Checks TON Connect <c>ton_proof</c> logins: the domain is allowed, the timestamp is fresh, the payload is a nonce
/// this process issued and not yet used, the state init hashes to the address, and the key in its data signed it.
/// Nonces live in memory (a restart invalidates outstanding logins, which then simply retry).
/// </summary>
public sealed class TonProofVerifier(IOptions<TonProofOptions> options, TimeProvider clock)
{
    private static readonly byte[] Prefix = Encoding.UTF8.GetBytes("ton-proof-item-v2/");
    private static readonly byte[] ConnectPrefix = [0xFF, 0xFF, .. Encoding.UTF8.GetBytes("ton-connect")];
    private readonly ConcurrentDictionary<string, DateTimeOffset> _nonces = new(StringComparer.Ordinal);

    /// <summary>A fresh single-use payload for the Mini App to put in its <c>ton_proof</c> request.</summary>
    public string IssueNonce()
    {
        var now = clock.GetUtcNow();
        foreach (var (nonce, expires) in _nonces)
        {
            if (expires < now)
            {
                _nonces.TryRemove(nonce, out _);
            }
        }

        var payload = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        _nonces[payload] = now + options.Value.MaxAge;
        return payload;
    }

    /// <summary>Returns the verified wallet address or throws <see cref="TonProofException"/> saying what is wrong.</summary>
    public TonAddress Verify(TonProofRequest proof)
    {
        ArgumentNullException.ThrowIfNull(proof);
        // The request comes from JSON a client wrote: a missing field is a refused proof, not a NullReferenceException.
        if (proof.Address is null || proof.Domain is null || proof.Payload is null || proof.SignatureBase64 is null || proof.WalletStateInitBase64 is null)
        {
            throw new TonProofException("The proof lacks one of address, domain, payload, signature or wallet state init.");
        }

        var opts = options.Value;
        if (!opts.AllowedDomains.Contains(proof.Domain, StringComparer.OrdinalIgnoreCase))
        {
            throw new TonProofException($"The proof is for domain '{Truncate(proof.Domain)}', which is not allowed.");
        }

        var now = clock.GetUtcNow();
        var age = now.ToUnixTimeSeconds() - proof.Timestamp;
        // Compared as seconds, so a timestamp far outside DateTimeOffset's range is refused rather than thrown on.
        if (proof.Timestamp < 0 || age > opts.MaxAge.TotalSeconds || age < -60)
        {
            throw new TonProofException($"The proof timestamp {proof.Timestamp} is stale or in the future.");
        }

        TonAddress address;
        Cell stateInitCell;
        try
        {
            address = TonAddress.Parse(proof.Address);
            stateInitCell = Cell.FromBocBase64(proof.WalletStateInitBase64);
        }
        catch (TonFormatException e)
        {
            throw new TonProofException("The proof's address or wallet state init is malformed: " + e.Message);
        }

        if (!stateInitCell.Hash.SequenceEqual(address.Hash))
        {
            throw new TonProofException("The wallet state init does not hash to the address.");
        }

        var publicKey = PublicKeyOf(StateInit.FromCell(stateInitCell));
        if (proof.PublicKeyHex is { Length: > 0 } claimed && !string.Equals(claimed, Convert.ToHexStringLower(publicKey), StringComparison.OrdinalIgnoreCase))
        {
            throw new TonProofException("The public key sent does not match the wallet's data.");
        }

        byte[] signature;
        try
        {
            signature = Convert.FromBase64String(proof.SignatureBase64);
        }
        catch (FormatException)
        {
            throw new TonProofException("The proof signature is not base64.");
        }

        if (!WalletKey.Verify(publicKey, SigningHash(address, proof.Domain, proof.Timestamp, proof.Payload), signature))
        {
            throw new TonProofException("The proof signature does not verify.");
        }

        // Consumed last, so a forged proof cannot burn a legitimate user's nonce.
        if (!_nonces.TryRemove(proof.Payload, out var expires) || expires < now)
        {
            throw new TonProofException("The proof payload is not a nonce this server issued, or it was already used.");
        }

        return address;
    }

    private static string Truncate(string s) => s.Length <= 64 ? s : s[..64] + "…";

    /// <summary><c>sha256(0xFFFF ‖ "ton-connect" ‖ sha256(message))</c>, what the wallet signs.</summary>
    public static byte[] SigningHash(TonAddress address, string domain, long timestamp, string payload)
    {
        var domainBytes = Encoding.UTF8.GetBytes(domain);
        var payloadBytes = Encoding.UTF8.GetBytes(payload);
        var message = new byte[Prefix.Length + 4 + 32 + 4 + domainBytes.Length + 8 + payloadBytes.Length];
        var span = message.AsSpan();
        Prefix.CopyTo(span);
        span = span[Prefix.Length..];
        BinaryPrimitives.WriteInt32BigEndian(span, address.Workchain);
        address.Hash.CopyTo(span[4..]);
        BinaryPrimitives.WriteUInt32LittleEndian(span[36..], (uint)domainBytes.Length);
        domainBytes.CopyTo(span[40..]);
        span = span[(40 + domainBytes.Length)..];
        BinaryPrimitives.WriteUInt64LittleEndian(span, (ulong)timestamp);
        payloadBytes.CopyTo(span[8..]);
        return SHA256.HashData([.. ConnectPrefix, .. SHA256.HashData(message)]);
    }

    private static byte[] PublicKeyOf(StateInit init)
    {
        if (init.Code.Hash.SequenceEqual(WalletCode.V5R1.Hash))
        {
            return WalletV5R1.PublicKeyFromData(init.Data);
        }

        if (init.Code.Hash.SequenceEqual(WalletCode.V4R2.Hash))
        {
            return WalletV4R2.PublicKeyFromData(init.Data);
        }

        throw new TonProofException("The wallet's code is neither v4r2 nor v5r1; its public key cannot be read offline.");
    }
}
