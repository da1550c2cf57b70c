using System.Buffers.Binary;

namespace Cocoon.Engine.Attestation;

/// <summary>
/// The parts of an Intel TDX quote (versions 4 and 5) Cocoon reads offline: header, TD report body measurements and
/// report data. It does NOT check the ECDSA signature, the PCK certificate chain or TCB status: that needs Intel's
/// collateral (PCS/DCAP), which this network cannot fetch. Parsing proves structure and binding, not authenticity.
/// </summary>
public sealed record TdxQuote(ushort Version, uint TeeType, byte[] MrTd, byte[] MrConfigId, byte[][] Rtmrs, byte[] ReportData)
{
    public const int HeaderSize = 48;
    public const int Td10BodySize = 584;
    public const int Td15BodySize = 648;
    public const int ReportDataSize = 64;
    public const uint TdxTeeType = 0x81;

    private const int MrTdOffset = 16 + 48 + 48 + 8 + 8 + 8;
    private const int MrConfigIdOffset = MrTdOffset + 48;
    private const int RtmrOffset = MrConfigIdOffset + 48 + 48 + 48;
    private const int ReportDataOffset = RtmrOffset + (4 * 48);

    /// <summary>Parses a quote; returns null with a reason when the bytes are not a TDX v4/v5 quote.</summary>
    public static TdxQuote? TryParse(ReadOnlySpan<byte> quote, out string? error)
    {
        error = null;
        if (quote.Length < HeaderSize + Td10BodySize + 4)
        {
            error = $"a TDX quote is at least {HeaderSize + Td10BodySize + 4} bytes, got {quote.Length}";
            return null;
        }

        var version = BinaryPrimitives.ReadUInt16LittleEndian(quote);
        var teeType = BinaryPrimitives.ReadUInt32LittleEndian(quote[4..]);
        if (teeType != TdxTeeType)
        {
            error = $"TEE type 0x{teeType:x} is not TDX (0x81)";
            return null;
        }

        ReadOnlySpan<byte> body;
        int end;
        switch (version)
        {
            case 4:
                body = quote.Slice(HeaderSize, Td10BodySize);
                end = HeaderSize + Td10BodySize;
                break;
            case 5:
                // v5 adds a body descriptor: u16 type (2 = TD 1.0, 3 = TD 1.5), u32 size.
                var bodyType = BinaryPrimitives.ReadUInt16LittleEndian(quote[HeaderSize..]);
                var bodySize = BinaryPrimitives.ReadInt32LittleEndian(quote[(HeaderSize + 2)..]);
                if (!(bodyType == 2 && bodySize == Td10BodySize) && !(bodyType == 3 && bodySize == Td15BodySize))
                {
                    error = $"quote v5 body type {bodyType} of {bodySize} bytes is not a TD report";
                    return null;
                }

                if (quote.Length < HeaderSize + 6 + bodySize + 4)
                {
                    error = "quote v5 is shorter than its body";
                    return null;
                }

                body = quote.Slice(HeaderSize + 6, bodySize);
                end = HeaderSize + 6 + bodySize;
                break;
            default:
                error = $"quote version {version} is not 4 or 5";
                return null;
        }

        var signatureLength = BinaryPrimitives.ReadUInt32LittleEndian(quote[end..]);
        if (signatureLength == 0 || signatureLength > quote.Length - end - 4)
        {
            error = $"quote signature data length {signatureLength} does not fit the {quote.Length - end - 4} bytes that follow the body";
            return null;
        }

        var rtmrs = new byte[4][];
        for (var i = 0; i < rtmrs.Length; i++)
        {
            rtmrs[i] = body.Slice(RtmrOffset + (i * 48), 48).ToArray();
        }

        return new TdxQuote(
            version,
            teeType,
            body.Slice(MrTdOffset, 48).ToArray(),
            body.Slice(MrConfigIdOffset, 48).ToArray(),
            rtmrs,
            body.Slice(ReportDataOffset, ReportDataSize).ToArray());
    }
}
