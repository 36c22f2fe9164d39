using System.Security.Cryptography;
using System.Text;

namespace Broker.Actors.Access;

/// <summary>
/// Password hashes as RabbitMQ stores them: base64(salt ++ H(salt ++ utf8(password))) with a
/// 4-byte random salt, H named by the hashing algorithm. So a user exported from RabbitMQ's
/// definitions (password_hash, hashing_algorithm) logs in here unchanged, and the other way round.
/// </summary>
public static class PasswordHashing
{
    public const string Sha256 = "rabbit_password_hashing_sha256";
    public const string Sha512 = "rabbit_password_hashing_sha512";
    public const string Md5 = "rabbit_password_hashing_md5";

    private const int SaltLength = 4;

    public static bool IsKnown(string algorithm) => algorithm is Sha256 or Sha512 or Md5;

    /// <summary>A new salted hash of <paramref name="password"/> (SHA-256, RabbitMQ's default).</summary>
    public static string Hash(string password, string algorithm = Sha256)
    {
        Span<byte> salt = stackalloc byte[SaltLength];
        RandomNumberGenerator.Fill(salt);
        return Convert.ToBase64String(Salted(salt, password, algorithm));
    }

    /// <summary>Whether <paramref name="password"/> matches a stored hash; an empty hash matches nothing (a user without a password).</summary>
    public static bool Verify(string storedHash, string algorithm, string password)
    {
        if (storedHash.Length == 0 || !IsKnown(algorithm))
        {
            return false;
        }

        byte[] stored;
        try
        {
            stored = Convert.FromBase64String(storedHash);
        }
        catch (FormatException)
        {
            return false;
        }

        if (stored.Length <= SaltLength)
        {
            return false;
        }

        var expected = Salted(stored.AsSpan(0, SaltLength), password, algorithm);
        return CryptographicOperations.FixedTimeEquals(expected, stored);
    }

    private static byte[] Salted(ReadOnlySpan<byte> salt, string password, string algorithm)
    {
        byte[] input = new byte[salt.Length + Encoding.UTF8.GetByteCount(password)];
        salt.CopyTo(input);
        Encoding.UTF8.GetBytes(password, input.AsSpan(salt.Length));
        byte[] digest = algorithm switch
        {
            Sha512 => SHA512.HashData(input),
            Md5 => MD5.HashData(input),
            _ => SHA256.HashData(input),
        };
        return [.. salt, .. digest];
    }
}
