using System.Buffers.Binary;

namespace Cocoon.Engine.Attestation.Snp;

/// <summary>
/// A TCB_VERSION as Milan and Genoa lay it out (AMD SEV-SNP ABI specification, table "TCB_VERSION"): boot loader,
/// TEE, SNP firmware and microcode security patch levels. Turin (family 1Ah) uses another layout, not read here.
/// </summary>
public readonly record struct SnpTcb(byte BootLoader, byte Tee, byte Snp, byte Microcode)
{
    public static SnpTcb FromBytes(ReadOnlySpan<byte> eight) => new(eight[0], eight[1], eight[6], eight[7]);
}

/// <summary>
/// An SEV-SNP attestation report (the firmware's ATTESTATION_REPORT, 1184 bytes, versions 2 and up), read field by
/// field at the offsets of the AMD SEV-SNP ABI specification. <see cref="SignedBytes"/> is what the VCEK signs
/// (bytes 0x000–0x29F); the signature's R and S are 72-byte little-endian fields, of which P-384 uses 48 bytes.
/// </summary>
public sealed class SnpReport
{
    public const int Length = 0x4A0;
    public const int SignedLength = 0x2A0;

    /// <summary>SIGNATURE_ALGO 1: ECDSA P-384 with SHA-384, the only algorithm the firmware uses.</summary>
    public const uint EcdsaP384Sha384 = 1;

    /// <summary>Guest policy bit 19: the host may debug the guest (read its memory).</summary>
    public const ulong PolicyDebug = 1UL << 19;

    private readonly byte[] _bytes;

    private SnpReport(byte[] bytes) => _bytes = bytes;

    public uint Version => BinaryPrimitives.ReadUInt32LittleEndian(_bytes.AsSpan(0x000));

    public uint GuestSvn => BinaryPrimitives.ReadUInt32LittleEndian(_bytes.AsSpan(0x004));

    public ulong Policy => BinaryPrimitives.ReadUInt64LittleEndian(_bytes.AsSpan(0x008));

    public uint Vmpl => BinaryPrimitives.ReadUInt32LittleEndian(_bytes.AsSpan(0x030));

    public uint SignatureAlgorithm => BinaryPrimitives.ReadUInt32LittleEndian(_bytes.AsSpan(0x034));

    public SnpTcb CurrentTcb => SnpTcb.FromBytes(_bytes.AsSpan(0x038, 8));

    public ulong PlatformInfo => BinaryPrimitives.ReadUInt64LittleEndian(_bytes.AsSpan(0x040));

    /// <summary>Flags bit 1 (MASK_CHIP_ID): the chip id is zeroed in this report.</summary>
    public bool ChipIdMasked => (BinaryPrimitives.ReadUInt32LittleEndian(_bytes.AsSpan(0x048)) & 0b10) != 0;

    /// <summary>Flags bits 2–4 (SIGNING_KEY): 0 = VCEK, 1 = VLEK.</summary>
    public uint SigningKey => (BinaryPrimitives.ReadUInt32LittleEndian(_bytes.AsSpan(0x048)) >> 2) & 0b111;

    /// <summary>The 64 bytes the guest asked the firmware to sign with the report (our document hash goes here).</summary>
    public ReadOnlySpan<byte> ReportData => _bytes.AsSpan(0x050, 64);

    /// <summary>The launch measurement (SHA-384 of the initial guest image), 48 bytes.</summary>
    public ReadOnlySpan<byte> Measurement => _bytes.AsSpan(0x090, 48);

    public ReadOnlySpan<byte> HostData => _bytes.AsSpan(0x0C0, 32);

    public ReadOnlySpan<byte> IdKeyDigest => _bytes.AsSpan(0x0E0, 48);

    public ReadOnlySpan<byte> ReportId => _bytes.AsSpan(0x140, 32);

    /// <summary>The TCB the VCEK that signed this report was derived from.</summary>
    public SnpTcb ReportedTcb => SnpTcb.FromBytes(_bytes.AsSpan(0x180, 8));

    public ReadOnlySpan<byte> ChipId => _bytes.AsSpan(0x1A0, 64);

    public ReadOnlySpan<byte> SignedBytes => _bytes.AsSpan(0, SignedLength);

    /// <summary>The signature as IEEE P1363 (R || S, 48 bytes each, big-endian), as .NET's ECDsa verifies it.</summary>
    public byte[] SignatureP1363()
    {
        var signature = new byte[96];
        _bytes.AsSpan(0x2A0, 48).CopyTo(signature);
        _bytes.AsSpan(0x2A0 + 72, 48).CopyTo(signature.AsSpan(48));
        signature.AsSpan(0, 48).Reverse();
        signature.AsSpan(48, 48).Reverse();
        return signature;
    }

    /// <summary>True when the bytes above P-384's 48 in each 72-byte field are zero, as the specification requires.</summary>
    internal bool SignaturePaddingIsZero() =>
        !_bytes.AsSpan(0x2A0 + 48, 24).ContainsAnyExcept((byte)0) && !_bytes.AsSpan(0x2A0 + 72 + 48, 24).ContainsAnyExcept((byte)0);

    /// <summary>Reads a report; throws <see cref="FormatException"/> for a wrong length or a version before 2.</summary>
    public static SnpReport Parse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Length)
        {
            throw new FormatException($"An SEV-SNP attestation report is {Length} bytes, not {bytes.Length}.");
        }

        var report = new SnpReport(bytes.ToArray());
        return report.Version >= 2 ? report : throw new FormatException($"SEV-SNP report version {report.Version} is older than 2.");
    }
}
