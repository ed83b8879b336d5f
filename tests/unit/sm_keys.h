/*
 * sm_keys.h - the fixed SM2 and RSA keys of the known-answer tests
 * (test_sm.c) and of the key fuzzer (fuzz_keys.c), whose ciphertexts and
 * signatures were made with them by the openssl command line.
 */
#ifndef IDN_TEST_SM_KEYS_H
#define IDN_TEST_SM_KEYS_H

/* Not every includer uses every key. */
#define IDN_TEST_KEY __attribute__((unused))

/*
 * The fixed keys, made with
 *   openssl genpkey -algorithm SM2 -out sm2.pem; openssl pkey -in sm2.pem -pubout
 *   openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024
 */
static const char SM2_PRIV[] IDN_TEST_KEY =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqBHM9VAYItBG0wawIBAQQgglSaqWf3SvH+IeF3\n"
    "eCVkWv6e4SHazaRnTPy7BOLv1b6hRANCAAQRQMT41gNgyqo9g5I6S6UrflFElxRS\n"
    "9uASdRUx8K4dWyqMvMXiX17kcQmjivUcT4WCjTbKy88YysL6dUPoP0oy\n"
    "-----END PRIVATE KEY-----\n";
static const char SM2_PUB[] IDN_TEST_KEY =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAEEUDE+NYDYMqqPYOSOkulK35RRJcU\n"
    "UvbgEnUVMfCuHVsqjLzF4l9e5HEJo4r1HE+Fgo02ysvPGMrC+nVD6D9KMg==\n"
    "-----END PUBLIC KEY-----\n";
static const char RSA_PRIV[] IDN_TEST_KEY =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIICdQIBADANBgkqhkiG9w0BAQEFAASCAl8wggJbAgEAAoGBAJa6n1+tpFlZHwzu\n"
    "ioK4F2zZX74WfaieWa6lXCPqUlmLwyVvPMWBFeVitY6GPvet9Sh/q7vYs0uZv50Z\n"
    "LFEe7gxFoRhokxWAO0oe+QC9o8aaxfZXNThaZcQmx7r5T9sZANBPAgS017HFmr7/\n"
    "189KorsICndoQUdSyAB15J47kfGJAgMBAAECgYAbO7LJ9bSpFAohKwRJo/tPhmLf\n"
    "FG81xQ6NGIFyV8bzOOZUYCnJwY30OQZ2rti3pW2TGKYttXSHp0rQlpjEO2Nk+z3l\n"
    "7vL0LJs3HynJx3tr8k/V2vgeIaxERih9KF5mm2D5LsZdf0jHaE+ldj9iFcJqygH5\n"
    "pqpK3ZhSIgExGmPNAQJBAMdd9g+gQ6d2UZloNOaPIm7l7FxvUTtq+nBVj5MuX34I\n"
    "JsawPe0FXRAJGFKCVtaUjeN9PgFKcEFALwMFGwLxhGkCQQDBi6+4/HAXb9D4kDEw\n"
    "G0p6A4j6fhnum4hCp80pTV8df8YZAkZNOzyfc2NmCP5+NLDidwy4y96+9ePyv0Zv\n"
    "dOAhAkBIR3h+Ecx1WiAbTfxf2mTRb+pRWMpKkG5ba6mx4o4cUzg7sInC9L7YoXN/\n"
    "9mElSpZmc3GXZjVscqiYn7E7T/SBAkBl7XyjfT5C+X4iCT3+ScEVNNtkoBhkEsDV\n"
    "6a0gPUEENhBLh2kirzmj9463Y7EzIeitu2iVwbgS9UgQxS8A75pBAkA46ME+m58p\n"
    "TysSze0MrEv3iS1q1jLN0VzqapkHoM0Qtlpkc0XWV3v1MOcJ5aAWu8yR/NMs07NM\n"
    "6a8gnlkmeLJG\n"
    "-----END PRIVATE KEY-----\n";

#endif
