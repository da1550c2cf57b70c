using NSec.Cryptography;

using Cocoon.Engine.Attestation;

namespace Cocoon.Worker.Attestation;

/// <summary>
/// Stands in for hardware attestation where there is none: an Ed25519 "platform" key, kept in a file under the data
/// folder, signs document hashes the way a TEE's root key would. It proves only that the document was signed by a
/// holder of that file: no isolation, no hardware. Every document and answer it touches says "simulated".
/// </summary>
public sealed class SimulatedTeeProvider : ITeeProvider, IDisposable
{
    public const string TeeKind = TeeKinds.Simulated;
    public const string KeyFileName = "platform.key";

    private readonly Key _platformKey;

    private SimulatedTeeProvider(Key platformKey)
    {
        _platformKey = platformKey;
        PlatformPublicKey = platformKey.PublicKey.Export(KeyBlobFormat.RawPublicKey);
    }

    public string Kind => TeeKind;

    /// <summary>The key a gateway lists in its trusted simulated platform keys.</summary>
    public byte[] PlatformPublicKey { get; }

    /// <summary>
    /// Loads <c>platform.key</c> (a raw 32-byte Ed25519 seed, owner-only) from <paramref name="directory"/>, creating
    /// it on first use. Several workers sharing one data folder share one platform key, as boxes of one host would.
    /// </summary>
    public static SimulatedTeeProvider LoadOrCreate(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, KeyFileName);
        if (!File.Exists(path))
        {
            TryCreate(path);
        }

        var seed = ReadSeed(path);
        try
        {
            if (!Key.TryImport(SignatureAlgorithm.Ed25519, seed, KeyBlobFormat.RawPrivateKey, out var key) || key is null)
            {
                throw new InvalidOperationException(
                    $"{path} is not a 32-byte Ed25519 platform key; delete it to create a new one (workers attested under the old key will need re-attesting).");
            }

            return new SimulatedTeeProvider(key);
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(seed);
        }
    }

    /// <summary>Reads the platform public key without loading the private key (for a gateway's trust list on the same host).</summary>
    public static byte[] ReadPlatformPublicKey(string directory)
    {
        using var provider = LoadOrCreate(directory);
        return provider.PlatformPublicKey;
    }

    public Task<AttestationEvidence> AttestAsync(ReadOnlyMemory<byte> documentHash, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (documentHash.Length != 32)
        {
            throw new ArgumentException("The document hash must be a 32-byte SHA-256.", nameof(documentHash));
        }

        var signature = SignatureAlgorithm.Ed25519.Sign(_platformKey, TeeKinds.SimulatedSignedMessage(documentHash.Span));
        return Task.FromResult(new AttestationEvidence(TeeKind, signature, PlatformPublicKey));
    }

    public void Dispose() => _platformKey.Dispose();

    /// <summary>
    /// Creates the key file with O_EXCL, so of several workers starting together exactly one creates it and the rest
    /// read that one (a rename-based create is not atomic where the file system lacks hard links).
    /// </summary>
    private static void TryCreate(string path)
    {
        using var key = Key.Create(SignatureAlgorithm.Ed25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextArchiving });
        var seed = key.Export(KeyBlobFormat.RawPrivateKey);
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using var file = new FileStream(path, options);
            file.Write(seed);
            file.Flush(flushToDisk: true);
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another worker created it first: read theirs.
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(seed);
        }
    }

    /// <summary>Reads the seed, waiting briefly while a worker that is creating the file has not written it all yet.</summary>
    private static byte[] ReadSeed(string path)
    {
        for (var attempt = 0; ; attempt++)
        {
            var seed = File.ReadAllBytes(path);
            if (seed.Length >= 32 || attempt >= 20)
            {
                return seed;
            }

            System.Security.Cryptography.CryptographicOperations.ZeroMemory(seed);
            Thread.Sleep(10);
        }
    }
}
