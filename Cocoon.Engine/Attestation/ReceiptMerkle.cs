using System.Security.Cryptography;

namespace Cocoon.Engine.Attestation;

/// <summary>One step of an inclusion proof: the sibling hash and whether it sits left of the running hash.</summary>
public sealed record MerkleStep(bool SiblingOnLeft, byte[] Sibling);

/// <summary>
/// The Merkle tree the gateway anchors on TON over a period's receipts. Leaf = SHA-256(0x00 || canonical receipt bytes
/// || signature); inner node = SHA-256(0x01 || left || right) (the prefixes keep a leaf from passing as a node); a node
/// without a sibling moves up a level unchanged. Leaves are in the order the gateway stored the receipts.
/// </summary>
public static class ReceiptMerkle
{
    public static byte[] Leaf(ReadOnlySpan<byte> canonicalReceipt, ReadOnlySpan<byte> signature)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData([0]);
        hash.AppendData(canonicalReceipt);
        hash.AppendData(signature);
        return hash.GetHashAndReset();
    }

    public static byte[] Leaf(SignedUsageReceipt receipt)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        return Leaf(receipt.Receipt.ToCanonicalBytes(), receipt.Signature);
    }

    public static byte[] Node(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right)
    {
        Span<byte> buffer = stackalloc byte[65];
        buffer[0] = 1;
        left.CopyTo(buffer[1..]);
        right.CopyTo(buffer[33..]);
        return SHA256.HashData(buffer);
    }

    public static byte[] Root(IReadOnlyList<byte[]> leaves)
    {
        ArgumentNullException.ThrowIfNull(leaves);
        if (leaves.Count == 0)
        {
            throw new ArgumentException("A tree needs at least one leaf.", nameof(leaves));
        }

        var level = leaves.ToList();
        while (level.Count > 1)
        {
            level = Up(level);
        }

        return level[0];
    }

    /// <summary>The path from leaf <paramref name="index"/> to the root.</summary>
    public static IReadOnlyList<MerkleStep> Proof(IReadOnlyList<byte[]> leaves, int index)
    {
        ArgumentNullException.ThrowIfNull(leaves);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, leaves.Count);
        var steps = new List<MerkleStep>();
        var level = leaves.ToList();
        while (level.Count > 1)
        {
            var sibling = index ^ 1;
            if (sibling < level.Count)
            {
                steps.Add(new MerkleStep(SiblingOnLeft: sibling < index, level[sibling]));
            }

            level = Up(level);
            index /= 2;
        }

        return steps;
    }

    public static bool Verify(ReadOnlySpan<byte> leaf, IEnumerable<MerkleStep> proof, ReadOnlySpan<byte> root)
    {
        ArgumentNullException.ThrowIfNull(proof);
        var hash = leaf.ToArray();
        foreach (var step in proof)
        {
            if (step.Sibling is not { Length: 32 })
            {
                return false;
            }

            hash = step.SiblingOnLeft ? Node(step.Sibling, hash) : Node(hash, step.Sibling);
        }

        return CryptographicOperations.FixedTimeEquals(hash, root);
    }

    private static List<byte[]> Up(List<byte[]> level)
    {
        var next = new List<byte[]>((level.Count + 1) / 2);
        for (var i = 0; i < level.Count; i += 2)
        {
            next.Add(i + 1 < level.Count ? Node(level[i], level[i + 1]) : level[i]);
        }

        return next;
    }
}
