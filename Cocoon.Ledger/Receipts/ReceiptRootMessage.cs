using Cocoon.Ledger.Ton;

namespace Cocoon.Ledger.Receipts;

/// <summary>
/// The body of the message that commits a receipts Merkle root on TON: <c>op:uint32 query_id:uint64 root:bits256</c>
/// (320 bits, one cell). The network wallet sends it to itself with no value, so the root lands in the out message of
/// the wallet's own transaction and anyone reads it back from the chain API without our code (op, then 8 bytes, then
/// the root). A plain message rather than a contract that stores roots: nothing on chain has to look a root up (the
/// verifier brings the transaction), a message costs only the wallet's fees, and there is no contract to deploy,
/// fund or upgrade.
/// </summary>
public static class ReceiptRootMessage
{
    /// <summary>"cort" in ASCII: COcoon Receipts rooT.</summary>
    public const uint OpCode = 0x636f7274;

    public static Cell Body(ulong queryId, ReadOnlySpan<byte> root)
    {
        if (root.Length != 32)
        {
            throw new ArgumentException("A receipts root is a 32-byte SHA-256.", nameof(root));
        }

        return new CellBuilder().StoreUInt(OpCode, 32).StoreUInt(queryId, 64).StoreBytes(root).EndCell();
    }

    /// <summary>The root a message body carries, or null when the body is not a root commitment.</summary>
    public static byte[]? TryReadRoot(Cell? body)
    {
        if (body is null || body.BitLength < 32 + 64 + 256)
        {
            return null;
        }

        var s = body.BeginParse();
        if (s.LoadUInt(32) != OpCode)
        {
            return null;
        }

        s.LoadUInt(64);
        return s.LoadBytes(32);
    }

    /// <summary>The root carried by a base64 bag of cells as the chain API reports a body, or null.</summary>
    public static byte[]? TryReadRoot(string? bodyBocBase64)
    {
        if (string.IsNullOrEmpty(bodyBocBase64))
        {
            return null;
        }

        try
        {
            return TryReadRoot(Cell.FromBocBase64(bodyBocBase64));
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
