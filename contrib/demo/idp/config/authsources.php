<?php
// The demo users. Demo only.
$config = [
    'admin' => ['core:AdminPassword'],
    'demo-users' => [
        'exampleauth:UserPass',
        'alice:alicepass' => [
            'uid' => ['alice'],
            'mail' => ['alice@example.org'],
            'displayName' => ['Alice Example'],
            'groups' => ['ha-admins', 'users'],
        ],
        'bob:bobpass' => [
            'uid' => ['bob'],
            'mail' => ['bob@example.org'],
            'displayName' => ['Bob Example'],
            'groups' => ['users'],
        ],
        'carol:carolpass' => [
            'uid' => ['carol'],
            'mail' => ['carol@example.org'],
            'displayName' => ['Carol Example'],
        ],
    ],
];
